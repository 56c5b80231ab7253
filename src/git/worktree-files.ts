import { createHash, randomBytes } from 'node:crypto'
import type { Stats } from 'node:fs'
import { chmod, lstat, mkdir, open, readdir, readFile, readlink, rename, rm, rmdir, symlink, unlink } from 'node:fs/promises'
import path from 'node:path'
import type { PathEntry } from './change-paths.js'
import { isSymlinkMode } from './three-way.js'

/** What a working-tree path holds, read without following symlinks. */
export type DiskEntry =
  | { kind: 'absent' }
  /** A leading component is a file or a symlink: git sees the path as absent, and nothing can be written there. */
  | { kind: 'blocked', by: string }
  /** A folder: git sees the path as absent (its files are other paths), and a file cannot replace it. */
  | { kind: 'directory' }
  /** A fifo, socket or device: git ignores it, and gitmesh leaves it alone. */
  | { kind: 'special' }
  | { kind: 'file' | 'symlink', entry: PathEntry, content: Buffer, perm: number }

/** The id git gives a blob: sha1 of `blob <length>\0` and the bytes, as `git hash-object --no-filters`. */
export function blobOid (content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.byteLength}\0`).update(content).digest('hex')
}

export async function readDiskEntry (workTree: string, file: string): Promise<DiskEntry> {
  const parts = file.split('/')
  for (let i = 1; i < parts.length; i++) {
    const leading = parts.slice(0, i).join('/')
    const info = await lstatIfAny(path.join(workTree, leading))
    if (info === undefined) return { kind: 'absent' }
    if (!info.isDirectory()) return { kind: 'blocked', by: leading }
  }
  const full = path.join(workTree, file)
  const info = await lstatIfAny(full)
  if (info === undefined) return { kind: 'absent' }
  if (info.isDirectory()) return { kind: 'directory' }
  if (info.isSymbolicLink()) {
    const content = await readlink(full, { encoding: 'buffer' })
    return { kind: 'symlink', entry: { mode: '120000', oid: blobOid(content) }, content, perm: 0o777 }
  }
  if (!info.isFile()) return { kind: 'special' }
  const content = await readFile(full)
  // git's rule: executable when the owner may execute it.
  const mode = (info.mode & 0o100) !== 0 ? '100755' : '100644'
  return { kind: 'file', entry: { mode, oid: blobOid(content) }, content, perm: info.mode & 0o777 }
}

/** The entry git sees at the path (undefined: absent); `null` for a special file git does not track. */
export function gitView (disk: DiskEntry): PathEntry | undefined | null {
  if (disk.kind === 'file' || disk.kind === 'symlink') return disk.entry
  return disk.kind === 'special' ? null : undefined
}

/** True when the disk holds what `expected` says (content and file type; the exec bit is left to git's core.fileMode). */
export function diskHolds (disk: DiskEntry, expected: PathEntry | undefined): boolean {
  const seen = gitView(disk)
  if (seen === null) return false
  if (expected === undefined || seen === undefined) return expected === seen
  return seen.oid === expected.oid && isSymlinkMode(seen.mode) === isSymlinkMode(expected.mode)
}

/**
 * Writes a file or symlink atomically: a temporary name in the same folder, then a rename over
 * the path, so a crash leaves the old file or the new one, never half of one. A replaced file
 * keeps its permission bits except the exec bits; a new one gets 0666 or 0777 under the umask.
 */
export async function writeEntryAtomic (workTree: string, file: string, mode: string, content: Uint8Array, replacedPerm?: number): Promise<void> {
  const full = path.join(workTree, file)
  const dir = path.dirname(full)
  await mkdir(dir, { recursive: true })
  const temp = path.join(dir, `.gitmesh-${randomBytes(TEMP_NAME_BYTES).toString('hex')}.tmp`)
  try {
    if (isSymlinkMode(mode)) {
      await symlink(Buffer.from(content), temp)
    } else {
      const executable = mode === '100755'
      const handle = await open(temp, 'wx', executable ? 0o777 : 0o666)
      try {
        await handle.writeFile(content)
        if (replacedPerm !== undefined) await handle.chmod(withExecBits(replacedPerm, executable))
        await handle.sync()
      } finally {
        await handle.close()
      }
    }
    await rename(temp, full)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}

/** Random bytes in a temporary file's name; `removeLeftoverTempFiles` knows the name by them. */
const TEMP_NAME_BYTES = 6
const TEMP_NAME = new RegExp(`^\\.gitmesh-[0-9a-f]{${TEMP_NAME_BYTES * 2}}\\.tmp$`)

/**
 * Removes the temporary files `writeEntryAtomic` left in the folders of `files` when the process
 * was killed between writing one and renaming it into place. Only gitmesh's own name pattern is
 * touched, and only in those folders; a folder that is gone is skipped, and one this leaves empty
 * is removed (the write made it; git does not keep empty folders). Returns what it removed.
 */
export async function removeLeftoverTempFiles (workTree: string, files: readonly string[]): Promise<string[]> {
  const removed: string[] = []
  for (const dir of new Set(files.map(file => path.posix.dirname(file)))) {
    let names: string[]
    try {
      names = await readdir(path.join(workTree, dir))
    } catch {
      continue
    }
    for (const name of names.filter(n => TEMP_NAME.test(n))) {
      const rel = dir === '.' ? name : `${dir}/${name}`
      const info = await lstat(path.join(workTree, rel))
      if (!info.isFile() && !info.isSymbolicLink()) continue
      await rm(path.join(workTree, rel), { force: true })
      await pruneEmptyFolders(workTree, rel)
      removed.push(rel)
    }
  }
  return removed
}

/** Sets or clears a file's exec bits as git does (exec where read is allowed). */
export async function setExecutable (workTree: string, file: string, perm: number, executable: boolean): Promise<void> {
  await chmod(path.join(workTree, file), withExecBits(perm, executable))
}

/** Removes a file or symlink, then every folder above it that this left empty (as git's checkout does). */
export async function removeEntry (workTree: string, file: string): Promise<void> {
  await unlink(path.join(workTree, file))
  await pruneEmptyFolders(workTree, file)
}

export async function pruneEmptyFolders (workTree: string, file: string): Promise<void> {
  for (let dir = path.posix.dirname(file); dir !== '.'; dir = path.posix.dirname(dir)) {
    try {
      await rmdir(path.join(workTree, dir))
    } catch {
      return
    }
  }
}

/**
 * Runs `fn` after every earlier call for the same key has finished: operations on one working
 * tree (merge, restore, commit) never interleave within this process.
 */
export async function serialized<T> (key: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve()
  const run = previous.then(fn)
  const settled = run.then(() => {}, () => {})
  queues.set(key, settled)
  try {
    return await run
  } finally {
    if (queues.get(key) === settled) queues.delete(key)
  }
}

const queues = new Map<string, Promise<void>>()

function withExecBits (perm: number, executable: boolean): number {
  return executable ? perm | ((perm & 0o444) >> 2) : perm & ~0o111
}

async function lstatIfAny (file: string): Promise<Stats | undefined> {
  try {
    return await lstat(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw err
  }
}
