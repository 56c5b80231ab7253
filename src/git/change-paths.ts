import { runGit } from './git-process.js'
import { MissingObjectError, UnsafePathError } from './errors.js'
import type { ObjectStore } from './object-store.js'
import { checkEntryName } from './path-safety.js'
import { parseCommit, parseTree, type TreeEntry } from './tree.js'

/** One path as a tree holds it: its mode (`100644`, `100755`, `120000`, `160000`) and blob (or commit) id. */
export interface PathEntry {
  mode: string
  oid: string
}

export interface ChangedPath {
  /** Relative to the top of the working tree, `/`-separated, UTF-8. */
  path: string
  status: 'added' | 'modified' | 'deleted'
  oldOid?: string
  newOid?: string
  oldMode?: string
  newMode?: string
}

const ABSENT_MODE = '000000'
const STATUS: Record<string, ChangedPath['status']> = { A: 'added', M: 'modified', T: 'modified', D: 'deleted' }

/**
 * Paths changed between two commits (or trees), as `git diff-tree -r -z --no-renames` lists them:
 * a rename is a deletion and an addition, a file becoming a folder is a deletion and additions.
 * A path whose bytes are not UTF-8 is refused, since the working tree is written through UTF-8 names.
 */
export async function changedPaths (repoDir: string, from: string, to: string, options: { signal?: AbortSignal } = {}): Promise<ChangedPath[]> {
  const { stdout } = await runGit(['diff-tree', '-r', '-z', '--no-renames', '--no-commit-id', '--end-of-options', from, to], { cwd: repoDir, signal: options.signal })
  const fields = splitNul(stdout)
  const changes: ChangedPath[] = []
  for (let i = 0; i + 1 < fields.length; i += 2) {
    // ":<old mode> <new mode> <old oid> <new oid> <status letter>[score]"
    const [oldMode, newMode, oldOid, newOid, letter] = fields[i]!.toString('latin1').slice(1).split(' ') as [string, string, string, string, string]
    const status = STATUS[letter.charAt(0)]
    if (status === undefined) throw new Error(`unexpected diff-tree status ${JSON.stringify(letter)}`)
    const change: ChangedPath = { path: decodePath(fields[i + 1]!), status }
    if (oldMode !== ABSENT_MODE) Object.assign(change, { oldOid, oldMode })
    if (newMode !== ABSENT_MODE) Object.assign(change, { newOid, newMode })
    changes.push(change)
  }
  return changes
}

/** The path's entry before (`old`) or after (`new`) the change; undefined where it is absent. */
export function sideOf (change: ChangedPath, side: 'old' | 'new'): PathEntry | undefined {
  const mode = side === 'old' ? change.oldMode : change.newMode
  const oid = side === 'old' ? change.oldOid : change.newOid
  return mode === undefined || oid === undefined ? undefined : { mode, oid }
}

/** Checks every component of a path with `checkEntryName` before anything is written under it. */
export function checkChangePath (file: string): void {
  for (const part of file.split('/')) checkEntryName(part)
}

/** The tree id of a commit. */
export async function commitTree (store: ObjectStore, commit: string): Promise<string> {
  const [object] = await store.readMany([commit])
  if (object == null || object.type !== 'commit') throw new MissingObjectError(commit)
  return parseCommit(object.body).tree
}

/**
 * The entries of `paths` in `tree` (blobs, symlinks and gitlinks; a path that is absent or is a
 * folder there has no entry in the answer). Only the trees on the way to each path are read.
 */
export async function readPathEntries (store: ObjectStore, tree: string, paths: readonly string[]): Promise<Map<string, PathEntry>> {
  const trees = new Map<string, Promise<Map<string, TreeEntry>>>()
  const readTree = async (oid: string): Promise<Map<string, TreeEntry>> => {
    let entries = trees.get(oid)
    if (entries === undefined) {
      entries = store.readMany([oid]).then(([object]) => {
        if (object == null || object.type !== 'tree') throw new MissingObjectError(oid)
        return new Map(parseTree(object.body).map(entry => [entry.name, entry]))
      })
      trees.set(oid, entries)
    }
    return await entries
  }
  const found = new Map<string, PathEntry>()
  await Promise.all(paths.map(async (file) => {
    // Tree entry names are raw bytes held as latin1 strings.
    const parts = file.split('/').map(part => Buffer.from(part, 'utf8').toString('latin1'))
    let current = tree
    for (const [i, part] of parts.entries()) {
      const entry = (await readTree(current)).get(part)
      if (entry === undefined) return
      if (i === parts.length - 1) {
        if (entry.kind !== 'tree') found.set(file, { mode: entry.mode, oid: entry.oid })
        return
      }
      if (entry.kind !== 'tree') return
      current = entry.oid
    }
  }))
  return found
}

/** Groups path arguments so no single git command line grows past `maxBytes`. */
export function chunkPaths (paths: readonly string[], maxBytes: number): string[][] {
  const chunks: string[][] = []
  let chunk: string[] = []
  let bytes = 0
  for (const file of paths) {
    const size = Buffer.byteLength(file) + 1
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk)
      chunk = []
      bytes = 0
    }
    chunk.push(file)
    bytes += size
  }
  if (chunk.length > 0) chunks.push(chunk)
  return chunks
}

function decodePath (raw: Buffer): string {
  const text = raw.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(raw)) {
    throw new UnsafePathError(raw.toString('latin1'), 'not valid UTF-8 (gitmesh writes UTF-8 file names only)')
  }
  return text
}

function splitNul (buf: Buffer): Buffer[] {
  const fields: Buffer[] = []
  let start = 0
  for (let nul = buf.indexOf(0); nul >= 0; nul = buf.indexOf(0, start)) {
    fields.push(buf.subarray(start, nul))
    start = nul + 1
  }
  return fields
}
