import { copyFile, mkdtemp, rename, rm, stat, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { changedPaths, checkChangePath, chunkPaths, commitTree, readPathEntries, sideOf, type PathEntry } from './change-paths.js'
import { MAX_PATH_ARGUMENT_BYTES } from './constants.js'
import { ChangeDoesNotApplyError, GitCommandError, HeadMovedError, NothingToCommitError, type PathProblem } from './errors.js'
import { withIndexLock } from './index-lock.js'
import { readDiskEntry, serialized } from './worktree-files.js'
import { mergeKeepingApart } from './separate-merge.js'
import { gitEnv, gitText, runGit } from './git-process.js'
import { writeLooseObject } from './loose-object.js'
import { ObjectStore } from './object-store.js'
import { locateRepository } from './repository.js'
import { mergeEntries, readBlobs, sameEntry, type EntryMerge, type MergeContext } from './three-way.js'

const ZERO_OID = '0'.repeat(40)
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'
/** Temporary indexes stay whole and private: no split index in .git, no fsmonitor hook. */
const PRIVATE_INDEX_CONFIG = ['-c', 'core.splitIndex=false', '-c', 'core.fsmonitor=false']

export interface CommittedChange {
  commit: string
  /** The HEAD the commit was made on (undefined on an unborn branch). */
  parent?: string
  /** The paths the commit changes relative to its parent. */
  paths: string[]
}

export interface CommitChangeOptions {
  signal?: AbortSignal
  /**
   * Paths whose change cannot be kept apart from what HEAD lacks are committed as the working
   * tree holds them (the user's edits there included) instead of stopping the commit.
   */
  withMyEdits?: boolean
  /** Called with the new commit before HEAD moves: the caller records it, so a crash in between can be finished. */
  beforeHeadMoves?: (commit: string, parent: string | undefined) => Promise<void> | void
}

/**
 * Creates a commit on top of HEAD holding exactly the change S→B (a three-way merge per path with
 * base S, ours HEAD, theirs B; text both sides changed goes through `git merge-file`, and where
 * that conflicts, through `mergeKeepingApart`, which keeps apart hunks that only touch; a path
 * still in conflict stops it with `ChangeDoesNotApplyError`, naming the job's lines, and nothing
 * is changed, unless `withMyEdits` takes such paths from the working tree). The current branch (or a
 * detached HEAD) moves with a compare-and-swap against the HEAD this started from
 * (`HeadMovedError`), and the index entries of exactly the changed paths move with it, under git's
 * own `index.lock`: the user's other staged and unstaged edits stay as they were. The working tree
 * is not touched, and no hook runs; `commit.gpgSign` is honoured.
 */
export async function commitChangeOnHead (repoDir: string, s: string, b: string, message: string, options: CommitChangeOptions = {}): Promise<CommittedChange> {
  const repo = await locateRepository(repoDir)
  const workTree = repo.workTree!
  return await serialized(workTree, async () => {
    const change = await changedPaths(workTree, s, b, options)
    for (const { path } of change) checkChangePath(path)
    const store = await ObjectStore.open(workTree)
    const scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-commit-'))
    try {
      const context: MergeContext = { store, cwd: workTree, signal: options.signal }
      const branch = await symbolicHead(workTree)
      const head = await store.resolveCommit('HEAD')
      const headTree = head === undefined ? EMPTY_TREE : await commitTree(store, head)
      const files = change.map(c => c.path)
      const inHead = await readPathEntries(store, headTree, files)

      const updates = new Map<string, PathEntry | undefined>()
      const conflicts: PathProblem[] = []
      for (const c of change) {
        const base = sideOf(c, 'old')
        const theirs = sideOf(c, 'new')
        const merged = await resolvedEntry(await mergeEntries(base, inHead.get(c.path), theirs, context), store)
        let result = merged === 'content' && base !== undefined
          ? await keptApart(workTree, store, c.path, base, inHead.get(c.path)!, theirs!, options.signal)
          : typeof merged === 'string' ? { path: c.path, reason: headReason(merged) } : merged
        if (isProblem(result) && options.withMyEdits === true) result = await asItStands(workTree, store, result)
        if (isProblem(result)) conflicts.push(result)
        else if (!sameEntry(result, inHead.get(c.path))) updates.set(c.path, result)
      }
      if (conflicts.length > 0) throw new ChangeDoesNotApplyError(conflicts)
      if (updates.size === 0) throw new NothingToCommitError()

      const tree = await treeWithUpdates(workTree, path.join(scratch, 'tree-index'), head, updates, options.signal)
      await checkTreeChange(workTree, headTree, tree, updates, options.signal)
      // commit-tree ignores commit.gpgSign; a user who signs every commit gets this one signed too.
      const sign = await gitText(['config', '--type=bool', '--get', 'commit.gpgSign'], { cwd: workTree, okExitCodes: [1] }) === 'true'
      const args = ['commit-tree', tree, ...(head !== undefined ? ['-p', head] : []), ...(sign ? ['-S'] : []), '-F', '-']
      const commit = await gitText(args, { cwd: workTree, input: message.endsWith('\n') ? message : `${message}\n`, signal: options.signal })
      await options.beforeHeadMoves?.(commit, head)

      const indexFile = path.join(repo.gitDir, 'index')
      await withIndexLock(indexFile, async (lockFile) => {
        const userIndex = path.join(scratch, 'index')
        await copyKeepingTimes(indexFile, userIndex)
        await moveIndexEntries(workTree, userIndex, inHead, updates, context)
        if (await symbolicHead(workTree) !== branch) throw new HeadMovedError(head, `HEAD now points at ${await symbolicHead(workTree) ?? 'a detached commit'}`)
        const subject = message.split('\n', 1)[0]!
        const target = branch !== undefined ? [branch] : ['--no-deref', 'HEAD']
        try {
          await runGit(['update-ref', '-m', `commit (gitmesh): ${subject}`, ...target, commit, head ?? ZERO_OID], { cwd: workTree })
        } catch (err) {
          if (err instanceof GitCommandError) throw new HeadMovedError(head, err.stderr.trim())
          throw err
        }
        await copyFile(userIndex, lockFile)
        await rename(lockFile, indexFile)
      })
      return { commit, parent: head, paths: [...updates.keys()].sort() }
    } finally {
      store.close()
      await rm(scratch, { recursive: true, force: true })
    }
  })
}

/** A merge's result entry (writing a cleanly merged blob), or the conflict's reason. */
async function resolvedEntry (merge: EntryMerge, store: ObjectStore): Promise<PathEntry | undefined | string> {
  if (merge.outcome === 'take') return merge.entry
  if (merge.outcome === 'conflict') return merge.reason
  if (merge.conflicts > 0) return 'content'
  return { mode: merge.mode, oid: await writeLooseObject(store.paths.objectDir, 'blob', merge.content) }
}

/**
 * A text path merge-file left in conflict, merged again keeping touching hunks apart; the mode is
 * HEAD's unless only the job changed it. Base, HEAD and the job's side all exist here.
 */
async function keptApart (workTree: string, store: ObjectStore, file: string, base: PathEntry, ours: PathEntry, theirs: PathEntry, signal?: AbortSignal): Promise<PathEntry | PathProblem> {
  const [baseBody, oursBody, theirsBody] = await readBlobs(store, [base.oid, ours.oid, theirs.oid]) as [Buffer, Buffer, Buffer]
  const merged = await mergeKeepingApart(workTree, baseBody, oursBody, theirsBody, signal)
  if (!merged.clean) return { path: file, reason: 'content', lines: merged.hunks }
  const mode = ours.mode === base.mode ? theirs.mode : ours.mode
  return { mode, oid: await writeLooseObject(store.paths.objectDir, 'blob', merged.content) }
}

/** The working tree's version of a conflicting path (`--with-my-edits`); a folder or special file in its way stays a problem. */
async function asItStands (workTree: string, store: ObjectStore, problem: PathProblem): Promise<PathEntry | undefined | PathProblem> {
  const disk = await readDiskEntry(workTree, problem.path)
  if (disk.kind === 'absent' || disk.kind === 'blocked') return undefined
  if (disk.kind !== 'file' && disk.kind !== 'symlink') return problem
  return { mode: disk.entry.mode, oid: await writeLooseObject(store.paths.objectDir, 'blob', disk.content) }
}

function isProblem (value: PathEntry | undefined | PathProblem): value is PathProblem {
  return value !== undefined && 'reason' in value
}

function headReason (reason: string): string {
  return reason === 'deleted-by-ours' ? 'deleted-in-head' : reason === 'modified-by-ours' ? 'modified-in-head' : reason
}

async function symbolicHead (workTree: string): Promise<string | undefined> {
  return await gitText(['symbolic-ref', '-q', 'HEAD'], { cwd: workTree, okExitCodes: [1] }) || undefined
}

/** HEAD's tree with `updates` applied, built in a private index (the user's is not read). */
async function treeWithUpdates (workTree: string, indexFile: string, head: string | undefined, updates: Map<string, PathEntry | undefined>, signal?: AbortSignal): Promise<string> {
  const env = gitEnv({ GIT_INDEX_FILE: indexFile })
  if (head !== undefined) await runGit([...PRIVATE_INDEX_CONFIG, 'read-tree', head], { cwd: workTree, env, signal })
  await updateIndex(workTree, env, updates, signal)
  return await gitText([...PRIVATE_INDEX_CONFIG, 'write-tree'], { cwd: workTree, env, signal })
}

/**
 * `update-index --index-info` quietly drops a file that is in the way of a new folder (and the
 * reverse), so the tree it made is checked: it must differ from HEAD's in exactly the updates.
 */
async function checkTreeChange (workTree: string, headTree: string, tree: string, updates: Map<string, PathEntry | undefined>, signal?: AbortSignal): Promise<void> {
  const problems: PathProblem[] = []
  const seen = new Set<string>()
  for (const c of await changedPaths(workTree, headTree, tree, { signal })) {
    seen.add(c.path)
    if (!updates.has(c.path) || !sameEntry(sideOf(c, 'new'), updates.get(c.path))) problems.push({ path: c.path, reason: 'file-directory' })
  }
  for (const file of updates.keys()) {
    if (!seen.has(file)) problems.push({ path: file, reason: 'file-directory' })
  }
  if (problems.length > 0) throw new ChangeDoesNotApplyError(problems)
}

/**
 * Moves the index entries of the changed paths from HEAD's version to the new commit's. An entry
 * the user had staged differently is merged with the change when that is clean (it stays staged,
 * on top of the change), else it takes the commit's version and the user's staged edit becomes an
 * unstaged difference in the working tree.
 */
export async function moveIndexEntries (workTree: string, indexFile: string, inHead: Map<string, PathEntry>, updates: Map<string, PathEntry | undefined>, context: MergeContext): Promise<void> {
  const env = gitEnv({ GIT_INDEX_FILE: indexFile })
  const staged = await readIndexEntries(workTree, env, [...updates.keys()])
  const entries = new Map<string, PathEntry | undefined>()
  for (const [file, next] of updates) {
    const current = staged.get(file)
    if (current === 'unmerged' || sameEntry(current, inHead.get(file))) {
      entries.set(file, next)
    } else if (!sameEntry(current, next)) {
      const result = await resolvedEntry(await mergeEntries(inHead.get(file), current, next, context), context.store)
      entries.set(file, typeof result === 'string' ? next : result)
    }
  }
  await updateIndex(workTree, env, entries, context.signal)
}

/** Stage-0 entries of `files` in an index; `unmerged` where the path has conflict stages. */
async function readIndexEntries (workTree: string, env: NodeJS.ProcessEnv, files: string[]): Promise<Map<string, PathEntry | 'unmerged'>> {
  const wanted = new Set(files)
  const entries = new Map<string, PathEntry | 'unmerged'>()
  for (const chunk of chunkPaths(files, MAX_PATH_ARGUMENT_BYTES)) {
    const { stdout } = await runGit(['--literal-pathspecs', 'ls-files', '-s', '-z', '--', ...chunk], { cwd: workTree, env })
    for (const record of stdout.toString('utf8').split('\0')) {
      // "<mode> <oid> <stage>\t<path>"
      const tab = record.indexOf('\t')
      const file = record.slice(tab + 1)
      if (tab < 0 || !wanted.has(file)) continue
      const [mode, oid, stage] = record.slice(0, tab).split(' ') as [string, string, string]
      entries.set(file, stage === '0' && entries.get(file) === undefined ? { mode, oid } : 'unmerged')
    }
  }
  return entries
}

/** Sets (or, for undefined, removes) index entries; a removal line first clears any conflict stages. */
async function updateIndex (workTree: string, env: NodeJS.ProcessEnv, entries: Map<string, PathEntry | undefined>, signal?: AbortSignal): Promise<void> {
  if (entries.size === 0) return
  const records: string[] = []
  const sorted = [...entries].sort(([a], [b]) => a < b ? -1 : 1)
  // All removals before all additions, so a file removed can give way to a folder.
  for (const [file] of sorted) records.push(`0 ${ZERO_OID}\t${file}`)
  for (const [file, entry] of sorted) {
    if (entry !== undefined) records.push(`${entry.mode} ${entry.oid} 0\t${file}`)
  }
  await runGit([...PRIVATE_INDEX_CONFIG, 'update-index', '-z', '--add', '--index-info'], { cwd: workTree, env, input: records.join('\0') + '\0', signal })
}

/**
 * Copies the index keeping its times: git treats entries not older than the index as racily clean
 * and re-hashes them, and a fresh mtime would make a file changed in the index's second look clean.
 */
export async function copyKeepingTimes (from: string, to: string): Promise<void> {
  try {
    const { atime, mtime } = await stat(from)
    await copyFile(from, to)
    await utimes(to, atime, mtime)
  } catch (err) {
    // No index yet: update-index starts an empty one.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
