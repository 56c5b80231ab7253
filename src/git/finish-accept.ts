/**
 * Finishing an accept that a crash cut short. `commitChangeOnHead` hands its new commit to the
 * caller before HEAD moves; the caller records it. On the next start that record says one of two
 * things: HEAD never moved (nothing to finish), or it did, and the index may still hold HEAD's
 * old entries for the job's paths (the kill came before the new index was renamed into place).
 */
import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { changedPaths, commitTree, readPathEntries, sideOf } from './change-paths.js'
import { copyKeepingTimes, EMPTY_TREE, moveIndexEntries } from './commit-change.js'
import { gitText, runGit } from './git-process.js'
import { releaseStaleIndexLock, withIndexLock } from './index-lock.js'
import { ObjectStore } from './object-store.js'
import { locateRepository } from './repository.js'
import { serialized } from './worktree-files.js'

/**
 * Whether an accept that made `commit` (on `parent`) got as far as moving HEAD, finishing its
 * index when HEAD is still that commit. A stale `index.lock` gitmesh itself left is removed first.
 * `committed` false: HEAD never moved to it, and the accept can simply run again.
 */
export async function finishAccept (repoDir: string, commit: string, parent: string | undefined): Promise<{ committed: boolean }> {
  const repo = await locateRepository(repoDir)
  const workTree = repo.workTree!
  return await serialized(workTree, async () => {
    await releaseStaleIndexLock(repo.gitDir)
    const head = await gitText(['rev-parse', '-q', '--verify', 'HEAD^{commit}'], { cwd: workTree, okExitCodes: [1] })
    if (head === commit) {
      await moveIndexToCommit(repo.gitDir, workTree, parent, commit)
      return { committed: true }
    }
    // HEAD went on from it (the user committed since): the index is the user's by now.
    if (head === '') return { committed: false }
    const { exitCode } = await runGit(['merge-base', '--is-ancestor', commit, head], { cwd: workTree, okExitCodes: [1, 128] })
    return { committed: exitCode === 0 }
  })
}

/**
 * Moves the index entries of the paths `commit` changes from `parent`'s version to the commit's,
 * as the cut-short accept would have; entries already moved, or staged differently since, are
 * handled as `moveIndexEntries` handles them, so running it twice changes nothing.
 */
async function moveIndexToCommit (gitDir: string, workTree: string, parent: string | undefined, commit: string): Promise<void> {
  const store = await ObjectStore.open(workTree)
  const scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-finish-'))
  try {
    const parentTree = parent === undefined ? EMPTY_TREE : await commitTree(store, parent)
    const change = await changedPaths(workTree, parentTree, await commitTree(store, commit))
    const inParent = await readPathEntries(store, parentTree, change.map(c => c.path))
    const updates = new Map(change.map(c => [c.path, sideOf(c, 'new')]))
    const indexFile = path.join(gitDir, 'index')
    await withIndexLock(indexFile, async (lockFile) => {
      const copy = path.join(scratch, 'index')
      await copyKeepingTimes(indexFile, copy)
      await moveIndexEntries(workTree, copy, inParent, updates, { store, cwd: workTree })
      await copyFile(copy, lockFile)
      await rename(lockFile, indexFile)
    })
  } finally {
    store.close()
    await rm(scratch, { recursive: true, force: true })
  }
}

/**
 * HEAD's commit and parent when HEAD's message carries `trailer` (`Gitmesh-Job: <name> (<id>)`):
 * the accept that made it was not recorded as done, yet HEAD shows it was.
 */
export async function headCommitWithTrailer (repoDir: string, trailer: string): Promise<{ commit: string, parent?: string } | undefined> {
  const repo = await locateRepository(repoDir)
  const out = await gitText(['log', '-1', '--format=%H%x00%P%x00%B', 'HEAD', '--'], { cwd: repo.workTree!, okExitCodes: [128] })
  const [commit, parents, body] = out.split('\0') as [string, string | undefined, string | undefined]
  if (body === undefined || !body.split('\n').includes(trailer)) return undefined
  const parent = parents?.split(' ')[0]
  return { commit, ...(parent !== undefined && parent !== '' ? { parent } : {}) }
}
