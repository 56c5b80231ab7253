import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { gitEnv, gitText, runGit } from '../git/git-process.js'
import { writeLooseObject } from '../git/loose-object.js'
import { locateObjectStore } from '../git/repository.js'

/**
 * Checks `commit` out into a fresh linked worktree of `repo` at `dir`, detached. Parallel
 * checkout (checkout.workers = one per core) writes the files of a large snapshot sooner than
 * git's default of one worker.
 */
export async function createWorktree (repo: string, dir: string, commit: string, options: { signal?: AbortSignal } = {}): Promise<void> {
  await rm(dir, { recursive: true, force: true })
  await runGit(['worktree', 'prune'], { cwd: repo })
  await mkdir(path.dirname(dir), { recursive: true })
  await runGit(['-c', 'checkout.workers=0', 'worktree', 'add', '--detach', '--force', '-q', dir, commit], { cwd: repo, signal: options.signal })
}

/** Removes a worktree and its administrative files; safe when it is already gone. */
export async function removeWorktree (repo: string, dir: string): Promise<void> {
  await runGit(['worktree', 'remove', '--force', dir], { cwd: repo, okExitCodes: [128] }).catch(() => {})
  await rm(dir, { recursive: true, force: true })
  await runGit(['worktree', 'prune'], { cwd: repo }).catch(() => {})
}

export interface CommitIdentity {
  name: string
  email: string
}

/**
 * Commits the worktree's whole tree (as `git add -A` sees it) as a commit whose parent is
 * `parent`, without moving any ref: the builder's result B.
 */
export async function commitWorktree (dir: string, parent: string, message: string, identity: CommitIdentity): Promise<{ commit: string, tree: string }> {
  const env = gitEnv()
  await runGit(['add', '-A', '--', '.'], { cwd: dir, env })
  const tree = await gitText(['write-tree'], { cwd: dir, env })
  const { objectDir } = await locateObjectStore(dir)
  const signature = `${identity.name} <${identity.email}> ${Math.floor(Date.now() / 1000)} +0000`
  const body = `tree ${tree}\nparent ${parent}\nauthor ${signature}\ncommitter ${signature}\n\n${message}`
  const commit = await writeLooseObject(objectDir, 'commit', Buffer.from(body, 'utf8'))
  return { commit, tree }
}
