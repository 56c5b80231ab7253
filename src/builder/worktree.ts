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
  // A fresh name each time: nothing stale to remove, and git's stale entries for worktrees that
  // vanished are pruned when the builder starts.
  await rm(dir, { recursive: true, force: true })
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

/**
 * Worktrees kept between jobs of one repository: a new job takes an idle one and checks its
 * snapshot out there, which writes only the files that differ (a fresh 5,000-file worktree takes
 * seconds; switching one to the next snapshot takes milliseconds). A worktree goes back to the
 * pool only when its job committed everything in it (B's `git add -A`), so after the switch it
 * holds exactly the new snapshot's files; ignored files (dependency folders, build caches) stay,
 * as a CI cache would keep them. Any other worktree is removed.
 */
export class WorktreePool {
  private readonly idle = new Map<string, string[]>()

  constructor (private readonly root: string, private readonly maxIdlePerRepo: number) {}

  /** A worktree of `repo` with `commit` checked out, detached: a recycled one, or a new one. */
  async acquire (repo: string, commit: string, name: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const spare = this.idle.get(repo)?.pop()
    if (spare !== undefined) {
      try {
        await runGit(['checkout', '--detach', '--force', '-q', commit], { cwd: spare, signal: options.signal })
        return spare
      } catch {
        await removeWorktree(repo, spare)
      }
    }
    const dir = path.join(this.root, name)
    await createWorktree(repo, dir, commit, options)
    return dir
  }

  /** Returns a worktree: kept for the next job when `clean`, removed otherwise or when enough are kept. */
  async release (repo: string, dir: string, clean: boolean): Promise<void> {
    const idle = this.idle.get(repo) ?? []
    if (clean && idle.length < this.maxIdlePerRepo) {
      idle.push(dir)
      this.idle.set(repo, idle)
      return
    }
    await removeWorktree(repo, dir)
  }

  /** Removes every idle worktree (the builder is stopping). */
  async drain (): Promise<void> {
    for (const [repo, dirs] of this.idle) {
      for (const dir of dirs) await removeWorktree(repo, dir)
    }
    this.idle.clear()
  }
}
