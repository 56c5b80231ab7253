import { createHash } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { runGit } from '../git/git-process.js'
import { startChild } from '../process/child.js'
import { ownEnv } from '../process/environment.js'
import type { JobSetup } from '../jobs/project-config.js'
import { SETUP_CACHE_COPY_TIMEOUT_MS, SETUP_CACHE_ENTRIES_PER_REPO, SETUP_CACHE_RESTORE, SETUP_MARKER_FILE } from './constants.js'

/** In a cache entry: the captured paths at their places, and the list of them. */
const TREE_DIR = 'tree'
const PATHS_FILE = 'paths.json'

/**
 * The setup key of a job in `worktree`: SHA-256 over the setup command and, for each `setupKey`
 * file (sorted), its path and its content's hash, or what stands there instead (nothing, a
 * symlink's target, a folder). A changed command or lock file is a new key; so is a lock file
 * added or removed. Undefined when `setupKey` names nothing: such a setup is not cached.
 */
export async function setupKeyHash (worktree: string, setup: JobSetup): Promise<string | undefined> {
  if (setup.key.length === 0) return undefined
  const hash = createHash('sha256').update(`setup\0${setup.command}\0`)
  for (const file of [...new Set(setup.key)].sort()) {
    hash.update(`${file}\0${await describeKeyFile(path.join(worktree, file))}\0`)
  }
  return hash.digest('hex').slice(0, 32)
}

async function describeKeyFile (file: string): Promise<string> {
  let info
  try {
    info = await lstat(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'absent'
    throw err
  }
  // A symlink is keyed by its target text, never followed: the snapshot's content is the key.
  if (info.isSymbolicLink()) return `link:${await readlink(file)}`
  if (!info.isFile()) return 'not-a-file'
  return `file:${createHash('sha256').update(await readFile(file)).digest('hex')}`
}

/** Where the marker of `worktree` lives: in its own git dir, so it goes when the worktree goes. */
async function markerPath (worktree: string, signal?: AbortSignal): Promise<string> {
  const { stdout } = await runGit(['rev-parse', '--absolute-git-dir'], { cwd: worktree, signal })
  return path.join(stdout.toString('utf8').trim(), SETUP_MARKER_FILE)
}

/**
 * The setup key `worktree`'s ignored files were made for, if a setup with a key succeeded there
 * and every path it made is still there (an agent's `git clean -fdx` would have removed them).
 */
export async function readSetupMarker (worktree: string, signal?: AbortSignal): Promise<string | undefined> {
  let lines: string[]
  try {
    lines = (await readFile(await markerPath(worktree, signal), 'utf8')).split('\n').filter(Boolean)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const [key, ...paths] = lines
  for (const made of paths) {
    try {
      await lstat(path.join(worktree, made))
    } catch {
      return undefined
    }
  }
  return key
}

/**
 * Records (or, with undefined, forgets) the setup key of `worktree`'s ignored files, and the
 * paths setup made (one per line after the key).
 */
export async function writeSetupMarker (worktree: string, key: string | undefined, signal?: AbortSignal, paths: readonly string[] = []): Promise<void> {
  const file = await markerPath(worktree, signal)
  if (key === undefined) await rm(file, { force: true })
  else await writeFile(file, [key, ...paths].map(line => `${line}\n`).join(''))
}


/**
 * Removes every ignored file of `worktree` (`git clean -ffdX`): setup then starts from the
 * snapshot alone, as on a fresh worktree, and whatever is ignored after it is what it made.
 */
export async function cleanIgnored (worktree: string, signal?: AbortSignal): Promise<void> {
  await runGit(['clean', '-ffdXq'], { cwd: worktree, signal })
}

/** The ignored paths of `worktree` as git lists them (a folder once, not its files). */
export async function ignoredPaths (worktree: string, signal?: AbortSignal): Promise<string[]> {
  const { stdout } = await runGit(['status', '--porcelain=v1', '-z', '--ignored=traditional', '--untracked-files=normal'], { cwd: worktree, signal })
  return stdout.toString('utf8').split('\0')
    .filter(entry => entry.startsWith('!! '))
    .map(entry => entry.slice(3).replace(/\/$/, ''))
}

/**
 * A builder's setup results, per author and repository, one entry per setup key: the ignored
 * paths a successful setup made, copied at their places in the worktree (`node_modules`,
 * `app/node_modules`), never a tracked file. At most SETUP_CACHE_ENTRIES_PER_REPO per repository;
 * the least recently used goes. An entry in use (being restored) is never removed.
 */
export class SetupCache {
  private readonly inUse = new Map<string, number>()
  private made = 0

  constructor (private readonly root: string) {}

  private dir (author: string, repo: string): string {
    return path.join(this.root, author, repo)
  }

  /**
   * Copies the entry for `key` into `worktree`; returns the paths it holds (the ignored paths of
   * the setup that made it), or undefined when there is no such entry.
   */
  async restore (author: string, repo: string, key: string, worktree: string, signal?: AbortSignal): Promise<string[] | undefined> {
    const entry = path.join(this.dir(author, repo), key)
    let paths: string[]
    try {
      paths = JSON.parse(await readFile(path.join(entry, PATHS_FILE), 'utf8')) as string[]
    } catch {
      return undefined
    }
    this.inUse.set(entry, (this.inUse.get(entry) ?? 0) + 1)
    try {
      const now = new Date()
      await utimes(entry, now, now) // recently used: evicted last
      const mode = SETUP_CACHE_RESTORE === 'hardlink' ? '-al' : '-a'
      if (paths.length > 0) await copyTree(['cp', mode, ...(SETUP_CACHE_RESTORE === 'copy' ? ['--reflink=auto'] : []), '--', `${path.join(entry, TREE_DIR)}/.`, `${worktree}/`], worktree, signal)
      return paths
    } finally {
      const left = (this.inUse.get(entry) ?? 1) - 1
      if (left === 0) this.inUse.delete(entry)
      else this.inUse.set(entry, left)
    }
  }

  /**
   * Keeps `paths` of `worktree` (the ignored paths its setup made) as the entry for `key`. Written
   * aside and renamed into place: an entry is whole or absent. A concurrent capture of the same
   * key keeps the first.
   */
  async capture (author: string, repo: string, key: string, worktree: string, paths: readonly string[], signal?: AbortSignal): Promise<void> {
    const dir = this.dir(author, repo)
    const entry = path.join(dir, key)
    const partial = path.join(dir, `.partial-${process.pid}-${this.made++}`)
    await mkdir(path.join(partial, TREE_DIR), { recursive: true })
    try {
      // --parents keeps each path's place (app/node_modules stays under app/).
      if (paths.length > 0) await copyTree(['cp', '-a', '--reflink=auto', '--parents', '--', ...paths, `${path.join(partial, TREE_DIR)}/`], worktree, signal)
      // Written last: an entry without its list of paths is not one (restore finds none).
      await writeFile(path.join(partial, PATHS_FILE), JSON.stringify(paths))
      await rename(partial, entry).catch(async err => {
        if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err
      })
    } finally {
      await rm(partial, { recursive: true, force: true })
    }
    await this.evict(author, repo)
  }

  /** Removes the least recently used entries past the bound, and partial ones of earlier runs. */
  private async evict (author: string, repo: string): Promise<void> {
    const dir = this.dir(author, repo)
    const names = await readdir(dir).catch(() => [])
    const entries: Array<{ file: string, used: number }> = []
    for (const name of names) {
      const file = path.join(dir, name)
      if (name.startsWith('.partial-')) {
        if (!name.startsWith(`.partial-${process.pid}-`)) await rm(file, { recursive: true, force: true })
        continue
      }
      // Another slot's eviction may have removed it meanwhile.
      const info = await stat(file).catch(() => undefined)
      if (info !== undefined) entries.push({ file, used: info.mtimeMs })
    }
    entries.sort((a, b) => b.used - a.used)
    for (const { file } of entries.slice(SETUP_CACHE_ENTRIES_PER_REPO)) {
      if (!this.inUse.has(file)) await rm(file, { recursive: true, force: true })
    }
  }
}

/** Runs a `cp` (the coreutils one: it knows reflinks, hard links and --parents) in `cwd`; throws with its message when it fails. */
async function copyTree (argv: string[], cwd: string, signal?: AbortSignal): Promise<void> {
  const running = startChild({ file: argv[0]!, args: argv.slice(1), cwd, env: ownEnv(), stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', timeoutMs: SETUP_CACHE_COPY_TIMEOUT_MS, signal })
  let stderr = ''
  running.child.stderr?.on('data', (chunk: Buffer) => { if (stderr.length < 4096) stderr += chunk.toString('utf8') })
  const exit = await running.exit
  if (exit.exitCode !== 0) throw new Error(`${argv.slice(0, 3).join(' ')} failed (${exit.timedOut ? 'timed out' : exit.cancelled ? 'cancelled' : `exit ${exit.exitCode ?? exit.signal}`}): ${stderr.trim().slice(0, 500)}`)
}
