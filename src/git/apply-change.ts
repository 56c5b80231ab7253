/**
 * The author's working-tree side of a review: `mergeChangeIntoWorkingTree` applies a job's change
 * S→B onto the working tree as a three-way merge after taking a snapshot W0 of it, and
 * `restorePaths` puts W0 back. Nothing is written that W0 cannot restore: a path whose content on
 * disk is not what W0 recorded (ignored, or edited during the merge) is reported, never touched.
 *
 * ```ts
 * const outcome = await mergeChangeIntoWorkingTree(repo, s, b)
 * if (!outcome.clean) console.log(outcome.conflicts)
 * // rejected: back to the working tree as it was
 * await restorePaths(repo, outcome.w0, outcome.paths)
 * ```
 */
import { changedPaths, checkChangePath, commitTree, readPathEntries, sideOf, type ChangedPath, type PathEntry } from './change-paths.js'
import { JOB_COPY_SUFFIX } from './constants.js'
import { RestoreIncompleteError, type PathProblem } from './errors.js'
import { ObjectStore } from './object-store.js'
import { locateRepository } from './repository.js'
import { snapshotWorkingTree } from './snapshot.js'
import { mergeEntries, readBlobs, sameEntry } from './three-way.js'
import { diskHolds, gitView, pruneEmptyFolders, readDiskEntry, removeEntry, serialized, setExecutable, writeEntryAtomic, type DiskEntry } from './worktree-files.js'

export { changedPaths, type ChangedPath } from './change-paths.js'
export { commitChangeOnHead, type CommittedChange } from './commit-change.js'

/**
 * Why a path was not merged cleanly:
 * - `content`: both sides changed the text; the file holds conflict markers.
 * - `deleted-by-user`: the job changed a file the user deleted; it stays deleted.
 * - `modified-by-user`: the job deleted a file the user changed; the user's file stays.
 * - `unmergeable`: binary content, or symlinks / file types on both sides; the user's version stays
 *   and the job's is written beside it (`jobCopy`) when that name is free.
 * - `submodule`: submodule changes are not applied.
 * - `not-in-snapshot`: what is on disk is not what W0 recorded (an ignored file, or one edited while
 *   the merge ran), so writing it could lose data; it is left alone.
 * - `obstructed`: a folder, or a file where a folder should be, is in the way; nothing was written.
 */
export type ConflictReason = 'content' | 'deleted-by-user' | 'modified-by-user' | 'unmergeable' | 'submodule' | 'not-in-snapshot' | 'obstructed'

export interface MergeConflict {
  path: string
  reason: ConflictReason
  /** Where the job's version was written, for `unmergeable` paths. */
  jobCopy?: string
}

export interface MergeOutcome {
  /** Snapshot commit of the working tree taken before anything was touched. */
  w0: string
  /** The job's change S→B. */
  change: ChangedPath[]
  /** Every path this merge wrote, chmodded or removed (job copies included), sorted: what `restorePaths` needs. */
  paths: string[]
  conflicts: MergeConflict[]
  clean: boolean
}

type Action =
  | { type: 'remove', path: string, expected: PathEntry }
  /** Writes `content`, or when there is none the blob `oid`, with `mode`. */
  | { type: 'write', path: string, expected: PathEntry | undefined, mode: string, oid?: string, content?: Buffer, jobCopyOf?: string }
  | { type: 'chmod', path: string, expected: PathEntry, mode: string }

/**
 * Applies the change S→B onto the current working tree as a three-way merge (base S, ours the
 * working tree, theirs B), file by file, touching only the paths the change touches. The index is
 * never changed. Every unsafe path is refused (`UnsafePathError`) before anything is done.
 */
export async function mergeChangeIntoWorkingTree (repoDir: string, s: string, b: string, options: { signal?: AbortSignal } = {}): Promise<MergeOutcome> {
  const repo = await locateRepository(repoDir)
  const workTree = repo.workTree!
  return await serialized(workTree, async () => {
    const change = await changedPaths(workTree, s, b, options)
    for (const { path } of change) checkChangePath(path)
    const w0 = await snapshotWorkingTree(workTree, options)
    const store = await ObjectStore.open(workTree)
    try {
      const files = change.map(c => c.path)
      const inW0 = await readPathEntries(store, w0.tree, files)
      const conflicts = new Map<string, MergeConflict>()
      const actions: Action[] = []
      const changing = new Set(files)
      for (const c of change) {
        const w = inW0.get(c.path)
        const disk = await readDiskEntry(workTree, c.path)
        if (!diskHolds(disk, w)) {
          conflicts.set(c.path, { path: c.path, reason: 'not-in-snapshot' })
          continue
        }
        const theirs = sideOf(c, 'new')
        const merge = await mergeEntries(sideOf(c, 'old'), w, theirs, { store, cwd: workTree, signal: options.signal })
        if (merge.outcome === 'take') {
          const result = merge.entry
          if (sameEntry(result, w)) continue
          if (result === undefined) actions.push({ type: 'remove', path: c.path, expected: w! })
          else if (w !== undefined && w.oid === result.oid && disk.kind === 'file' && result.mode !== '120000') actions.push({ type: 'chmod', path: c.path, expected: w, mode: result.mode })
          else actions.push({ type: 'write', path: c.path, expected: w, mode: result.mode, oid: result.oid })
        } else if (merge.outcome === 'merged') {
          actions.push({ type: 'write', path: c.path, expected: w, mode: merge.mode, content: merge.content })
          if (merge.conflicts > 0) conflicts.set(c.path, { path: c.path, reason: 'content' })
        } else {
          const reason = merge.reason === 'deleted-by-ours' ? 'deleted-by-user' : merge.reason === 'modified-by-ours' ? 'modified-by-user' : merge.reason
          conflicts.set(c.path, { path: c.path, reason })
          const jobCopy = c.path + JOB_COPY_SUFFIX
          if (reason === 'unmergeable' && theirs !== undefined && !changing.has(jobCopy) && !inW0.has(jobCopy)) {
            actions.push({ type: 'write', path: jobCopy, expected: undefined, mode: theirs.mode, oid: theirs.oid, jobCopyOf: c.path })
          }
        }
      }
      // Blobs to write come from the object database in one batch.
      const fromStore = actions.filter((a): a is Extract<Action, { type: 'write' }> => a.type === 'write' && a.content === undefined)
      const bodies = await readBlobs(store, fromStore.map(a => a.oid))
      fromStore.forEach((action, i) => { action.content = bodies[i]! })
      options.signal?.throwIfAborted()
      const touched = await applyActions(workTree, actions, conflicts)
      const sortedConflicts = [...conflicts.values()].sort((x, y) => compare(x.path, y.path))
      return { w0: w0.commit, change, paths: touched.sort(compare), conflicts: sortedConflicts, clean: sortedConflicts.length === 0 }
    } finally {
      store.close()
    }
  })
}

/**
 * Removals first (a file may give way to a folder), then writes. Each path is checked again just
 * before it is touched: it must still hold what W0 recorded, and nothing may be in its way.
 */
async function applyActions (workTree: string, actions: Action[], conflicts: Map<string, MergeConflict>): Promise<string[]> {
  const touched: string[] = []
  const order = { remove: 0, chmod: 1, write: 1 }
  for (const action of [...actions].sort((x, y) => order[x.type] - order[y.type] || compare(x.path, y.path))) {
    const disk = await readDiskEntry(workTree, action.path)
    const problem = !diskHolds(disk, action.expected)
      ? 'not-in-snapshot'
      : action.type === 'write' && action.expected === undefined && disk.kind !== 'absent' ? 'obstructed' : undefined
    if (problem !== undefined) {
      if (action.type === 'write' && action.jobCopyOf !== undefined) continue
      conflicts.set(action.path, { path: action.path, reason: problem })
      continue
    }
    if (action.type === 'remove') {
      await removeEntry(workTree, action.path)
    } else if (action.type === 'chmod') {
      await setExecutable(workTree, action.path, permOf(disk)!, action.mode === '100755')
    } else {
      await writeEntryAtomic(workTree, action.path, action.mode, action.content!, permOf(disk))
      if (action.jobCopyOf !== undefined) conflicts.get(action.jobCopyOf)!.jobCopy = action.path
    }
    touched.push(action.path)
  }
  return touched
}

/**
 * Restores exactly `paths` of the working tree to their state in the snapshot commit `w0`: files
 * absent there are removed (with the folders that leaves empty), the others are written with their
 * content, mode and symlink-ness. The index is never changed. Since the paths may hold edits made
 * after the merge, the working tree is snapshotted first; `before` is that snapshot's commit.
 * Paths that cannot be restored without deleting something else (a folder in the way) are left
 * and reported together at the end (`RestoreIncompleteError`), after the rest were restored.
 */
export async function restorePaths (repoDir: string, w0: string, paths: readonly string[], options: { signal?: AbortSignal } = {}): Promise<{ before: string }> {
  const repo = await locateRepository(repoDir)
  const workTree = repo.workTree!
  return await serialized(workTree, async () => {
    for (const file of paths) checkChangePath(file)
    const before = await snapshotWorkingTree(workTree, options)
    const store = await ObjectStore.open(workTree)
    try {
      const wanted = await readPathEntries(store, await commitTree(store, w0), paths)
      const problems: PathProblem[] = []
      const files = [...new Set(paths)].sort(compare)
      // Removals deepest first, so a folder emptied by them can give way to a file.
      for (const file of files.filter(f => !wanted.has(f)).reverse()) {
        const disk = await readDiskEntry(workTree, file)
        if (disk.kind === 'file' || disk.kind === 'symlink') await removeEntry(workTree, file)
        else if (disk.kind === 'directory') await pruneEmptyFolders(workTree, `${file}/.`)
      }
      const writes = files.filter(f => wanted.has(f))
      const blobs = writes.filter(f => wanted.get(f)!.mode !== '160000')
      const bodies = new Map((await readBlobs(store, blobs.map(f => wanted.get(f)!.oid))).map((body, i) => [blobs[i]!, body]))
      options.signal?.throwIfAborted()
      for (const file of writes) {
        const entry = wanted.get(file)!
        if (entry.mode === '160000') {
          problems.push({ path: file, reason: 'a submodule is not restored' })
          continue
        }
        let disk = await readDiskEntry(workTree, file)
        if (disk.kind === 'directory') {
          await pruneEmptyFolders(workTree, `${file}/.`)
          disk = await readDiskEntry(workTree, file)
        }
        if (disk.kind === 'blocked' || disk.kind === 'directory' || disk.kind === 'special') {
          problems.push({ path: file, reason: disk.kind === 'blocked' ? `${disk.by} is not a folder` : `a ${disk.kind === 'directory' ? 'folder' : 'special file'} is in the way` })
          continue
        }
        if (sameEntry(gitView(disk) ?? undefined, entry)) continue
        if (disk.kind === 'file' && disk.entry.oid === entry.oid && entry.mode !== '120000') {
          await setExecutable(workTree, file, disk.perm, entry.mode === '100755')
        } else {
          await writeEntryAtomic(workTree, file, entry.mode, bodies.get(file)!, permOf(disk))
        }
      }
      if (problems.length > 0) throw new RestoreIncompleteError(problems)
      return { before: before.commit }
    } finally {
      store.close()
    }
  })
}

function permOf (disk: DiskEntry): number | undefined {
  return disk.kind === 'file' ? disk.perm : undefined
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
