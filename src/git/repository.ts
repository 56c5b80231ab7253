import { access, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { gitText } from './git-process.js'
import { BareRepositoryError, GitCommandError, NotARepositoryError } from './errors.js'

export interface RepositoryPaths {
  /** The working tree's top level, or undefined for a bare repository. */
  workTree?: string
  /** The repository's git directory (per-worktree). */
  gitDir: string
  /** The common git directory holding objects and refs (differs from gitDir in linked worktrees). */
  commonDir: string
  /** The object database directory. */
  objectDir: string
}

/**
 * Repositories already located, by directory: a daemon snapshots the same repository again and
 * again, and a `git rev-parse` per snapshot is a process start it need not pay. An entry is used
 * only while its git directory still exists.
 */
const located = new Map<string, RepositoryPaths>()
const locating = new Map<string, Promise<RepositoryPaths>>()

/** Finds the repository containing `dir`, with clear errors for the cases gitmesh cannot use. */
export async function locateRepository (dir: string): Promise<RepositoryPaths> {
  const absolute = path.resolve(dir)
  const known = located.get(absolute)
  if (known !== undefined) {
    try {
      await stat(known.gitDir)
      return known
    } catch {
      located.delete(absolute)
    }
  }
  // Concurrent callers (a burst of offers for one repository) share one `git rev-parse`.
  let finding = locating.get(absolute)
  if (finding === undefined) {
    finding = findRepository(absolute).finally(() => { locating.delete(absolute) })
    locating.set(absolute, finding)
  }
  const paths = await finding
  located.set(absolute, paths)
  return paths
}

async function findRepository (absolute: string): Promise<RepositoryPaths> {
  try {
    const info = await stat(absolute)
    if (!info.isDirectory()) throw new NotARepositoryError(absolute)
  } catch (err) {
    if (err instanceof NotARepositoryError) throw err
    throw new NotARepositoryError(absolute)
  }
  let out: string
  try {
    out = await gitText(['rev-parse', '--is-bare-repository', '--absolute-git-dir', '--git-common-dir', '--git-path', 'objects', '--show-toplevel'], { cwd: absolute })
  } catch (err) {
    if (err instanceof GitCommandError) {
      // --show-toplevel fails in a bare repository; ask again without it to tell the cases apart.
      const bare = await gitText(['rev-parse', '--is-bare-repository'], { cwd: absolute }).catch(() => undefined)
      if (bare === 'true') throw new BareRepositoryError(absolute)
      throw new NotARepositoryError(absolute)
    }
    throw err
  }
  const [isBare, gitDir, commonDir, objectDir, workTree] = out.split('\n')
  if (isBare === 'true' || workTree === undefined || workTree === '') throw new BareRepositoryError(absolute)
  return {
    workTree,
    gitDir: gitDir!,
    commonDir: path.resolve(absolute, commonDir!),
    objectDir: path.resolve(absolute, objectDir!)
  }
}

/** Like `locateRepository` but also accepts a bare repository (object exchange needs no working tree). */
export async function locateObjectStore (dir: string): Promise<RepositoryPaths> {
  const absolute = path.resolve(dir)
  let out: string
  try {
    out = await gitText(['rev-parse', '--absolute-git-dir', '--git-common-dir', '--git-path', 'objects'], { cwd: absolute })
  } catch {
    throw new NotARepositoryError(absolute)
  }
  const [gitDir, commonDir, objectDir] = out.split('\n')
  return { gitDir: gitDir!, commonDir: path.resolve(absolute, commonDir!), objectDir: path.resolve(absolute, objectDir!) }
}

/** Bare repositories being created now, by directory: concurrent callers wait for the one creation. */
const creating = new Map<string, Promise<void>>()

/**
 * Makes `dir` a bare repository unless it is one (judged by its HEAD, not by asking git, which
 * would find an enclosing repository). Written in-process, without git's templates (a builder's
 * cache repository needs no sample hooks), into a temporary directory renamed into place: a
 * crash leaves no half-made repository, and two creations at once cannot collide.
 */
export async function ensureBareRepository (dir: string): Promise<void> {
  const absolute = path.resolve(dir)
  const pending = creating.get(absolute)
  if (pending !== undefined) return await pending
  try {
    await access(path.join(absolute, 'HEAD'))
    return
  } catch {
    // Not there yet: made below.
  }
  const creation = createBareRepository(absolute).finally(() => { creating.delete(absolute) })
  creating.set(absolute, creation)
  await creation
}

async function createBareRepository (dir: string): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true })
  const temporary = await mkdtemp(path.join(path.dirname(dir), `.${path.basename(dir)}.tmp-`))
  try {
    for (const sub of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags']) await mkdir(path.join(temporary, sub), { recursive: true })
    await writeFile(path.join(temporary, 'HEAD'), 'ref: refs/heads/main\n')
    await writeFile(path.join(temporary, 'config'), '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n')
    try {
      await rename(temporary, dir)
    } catch (err) {
      // Another process made it first (a non-empty directory is in the way): use theirs.
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
      await access(path.join(dir, 'HEAD'))
    }
  } finally {
    await rm(temporary, { recursive: true, force: true })
  }
}
