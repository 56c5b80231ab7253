import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { exists } from './fs-util.js'
import { gitEnv, gitText, runGit, runGitScript } from './git-process.js'
import { SNAPSHOT_EXCLUDED_DIR, SNAPSHOT_IDENTITY, SNAPSHOT_MESSAGE } from './constants.js'
import { OperationInProgressError } from './errors.js'
import { locateRepository } from './repository.js'
import { hasHiddenEntries } from './index-flags.js'
import { readHeadCommit } from './refs.js'
import { writeCommitObject } from './commit-object.js'

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
 * Writes a commit whose tree is the working tree as `git add -A` sees it (gitmesh's own
 * `.gitmesh/` folder as the index holds it) and whose parent is HEAD,
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
    const env = gitEnv({ GIT_INDEX_FILE: indexFile })
    await seedPrivateIndex(repo.gitDir, repo.workTree!, indexFile, env)
    const cwd = repo.workTree!
    // core.fsmonitor off: a user's fsmonitor hook must not see or alter our private index.
    // core.splitIndex off (add and write-tree both write the index): a split private index would
    // leave a new sharedindex file in the user's .git on every snapshot.
    // Both in one process start from the daemon (see runGitScript).
    const add = `git -c core.fsmonitor=false -c core.splitIndex=false add -A -- . ':(exclude)${SNAPSHOT_EXCLUDED_DIR}'`
    const { stdout } = await runGitScript(`${add} && exec git -c core.splitIndex=false write-tree`, { cwd, env, signal: options.signal })
    const tree = stdout.toString('utf8').trim()
    const parent = await readHeadCommit(repo)
    const commit = await writeCommitObject(repo.objectDir, { tree, parents: parent === undefined ? [] : [parent], identity: SNAPSHOT_IDENTITY, message: SNAPSHOT_MESSAGE })
    return { commit, tree, parent }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/**
 * Starts the private index as a copy of the real one, so git reuses its stat cache, unless the
 * real one hides files from `git add` (assume-unchanged, skip-worktree): then it starts from
 * HEAD's tree, as the throwaway index of the definition does, and git hashes every file.
 */
async function seedPrivateIndex (gitDir: string, workTree: string, indexFile: string, env: NodeJS.ProcessEnv): Promise<void> {
  const realIndex = path.join(gitDir, 'index')
  let bytes: Buffer
  try {
    bytes = await readFile(realIndex)
  } catch {
    return // no index yet (a fresh repository): git add starts from an empty one
  }
  const hidden = hasHiddenEntries(bytes) ?? /^[a-zS]/m.test(await gitText(['ls-files', '-v'], { cwd: workTree }))
  if (hidden) {
    // HEAD's tree without the flags: tracked files stay tracked (even ignored ones), and every
    // file is looked at.
    await runGit(['read-tree', 'HEAD'], { cwd: workTree, env, okExitCodes: [128] })
    return
  }
  const { atime, mtime } = await stat(realIndex)
  await writeFile(indexFile, bytes)
  // Keep the index's mtime: git treats entries not older than it as racily clean and re-hashes
  // them; a fresh mtime would make a file changed in the same second as the index look clean.
  await utimes(indexFile, atime, mtime)
}
