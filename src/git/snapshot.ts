import { copyFile, mkdtemp, rm, access, stat, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gitEnv, gitText } from './git-process.js'
import { SNAPSHOT_IDENTITY, SNAPSHOT_MESSAGE } from './constants.js'
import { OperationInProgressError } from './errors.js'
import { locateRepository } from './repository.js'

export interface Snapshot {
  commit: string
  tree: string
  /** HEAD's commit, or undefined on an unborn branch. */
  parent?: string
}

/** Files whose presence in the git directory means an operation is half done. */
const IN_PROGRESS_MARKERS: Array<[string, string]> = [
  ['MERGE_HEAD', 'merge'],
  ['rebase-merge', 'rebase'],
  ['rebase-apply', 'rebase or am'],
  ['CHERRY_PICK_HEAD', 'cherry-pick'],
  ['REVERT_HEAD', 'revert']
]

/**
 * Writes a commit whose tree is the working tree as `git add -A` sees it and whose parent is HEAD,
 * without touching anything the user sees: the index, working tree, HEAD, refs, reflogs and stash.
 *
 * It stages into a private copy of the index: starting from the real index lets git reuse its
 * stat cache, so unchanged files are not hashed again, and the cost follows what changed.
 */
export async function snapshotWorkingTree (dir: string, options: { signal?: AbortSignal } = {}): Promise<Snapshot> {
  const repo = await locateRepository(dir)
  for (const [marker, operation] of IN_PROGRESS_MARKERS) {
    if (await exists(path.join(repo.gitDir, marker))) throw new OperationInProgressError(repo.workTree!, operation)
  }
  const scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-snapshot-'))
  try {
    const indexFile = path.join(scratch, 'index')
    try {
      const realIndex = path.join(repo.gitDir, 'index')
      const { atime, mtime } = await stat(realIndex)
      await copyFile(realIndex, indexFile)
      // Keep the index's mtime: git treats entries not older than it as racily clean and re-hashes
      // them; a fresh mtime would make a file changed in the same second as the index look clean.
      await utimes(indexFile, atime, mtime)
    } catch {
      // No index yet (a fresh repository): git add starts from an empty one.
    }
    const env = gitEnv({
      GIT_INDEX_FILE: indexFile,
      GIT_AUTHOR_NAME: SNAPSHOT_IDENTITY.name,
      GIT_AUTHOR_EMAIL: SNAPSHOT_IDENTITY.email,
      GIT_COMMITTER_NAME: SNAPSHOT_IDENTITY.name,
      GIT_COMMITTER_EMAIL: SNAPSHOT_IDENTITY.email
    })
    const cwd = repo.workTree!
    // core.fsmonitor off: a user's fsmonitor hook must not see or alter our private index.
    // core.splitIndex off (add and write-tree both write the index): a split private index would
    // leave a new sharedindex file in the user's .git on every snapshot.
    await gitText(['-c', 'core.fsmonitor=false', '-c', 'core.splitIndex=false', 'add', '-A', '--', '.'], { cwd, env, signal: options.signal })
    const tree = await gitText(['-c', 'core.splitIndex=false', 'write-tree'], { cwd, env, signal: options.signal })
    const parent = await gitText(['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { cwd, env, okExitCodes: [1] }) || undefined
    const commitArgs = ['commit-tree', tree, ...(parent !== undefined ? ['-p', parent] : [])]
    const commit = await gitText(commitArgs, { cwd, env, input: SNAPSHOT_MESSAGE, signal: options.signal })
    return { commit, tree, parent }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

async function exists (file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch {
    return false
  }
}
