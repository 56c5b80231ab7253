import { mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { gitEnv, runGit, runGitScript } from '../git/git-process.js'
import { writeCommitObject, type CommitIdentity } from '../git/commit-object.js'
import { serialized } from '../git/worktree-files.js'

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
  // Only registering the worktree is serialized; the checkout, where the time goes, runs in parallel.
  await worktreeAdmin(repo, async () => {
    await runGit(['worktree', 'add', '--no-checkout', '--detach', '--force', '-q', dir, commit], { cwd: repo, signal: options.signal })
  })
  await runGit(['-c', 'checkout.workers=0', 'checkout', '--detach', '--force', '-q', commit], { cwd: dir, signal: options.signal })
}

/** Removes a worktree and its administrative files; safe when it is already gone. */
export async function removeWorktree (repo: string, dir: string): Promise<void> {
  await worktreeAdmin(repo, async () => {
    await runGit(['worktree', 'remove', '--force', dir], { cwd: repo, okExitCodes: [128] }).catch(() => {})
    await rm(dir, { recursive: true, force: true })
    await runGit(['worktree', 'prune'], { cwd: repo }).catch(() => {})
  })
}

/** Forgets the worktrees `repo` lists whose folders are gone (serialized with this process's other changes to the list). */
export async function pruneWorktrees (repo: string): Promise<void> {
  await worktreeAdmin(repo, async () => {
    await runGit(['worktree', 'prune'], { cwd: repo }).catch(() => {})
  })
}

/**
 * Runs `fn` alone among this process's changes to `repo`'s list of worktrees. git does not lock
 * that list: a `worktree add` that runs while another one is half-way through fails with "failed
 * to read .git/worktrees/<name>/commondir" (seen with two concurrent adds on git 2.39).
 */
async function worktreeAdmin<T> (repo: string, fn: () => Promise<T>): Promise<T> {
  return await serialized(`worktrees\0${path.resolve(repo)}`, fn)
}

/**
 * Commits the worktree's whole tree (as `git add -A` sees it) as a commit whose parent is
 * `parent`, without moving any ref: the builder's result B. `objectDir` is the repository's
 * object database (the builder knows it: its cache repository's).
 */
export async function commitWorktree (dir: string, objectDir: string, parent: string, message: string, identity: CommitIdentity): Promise<{ commit: string, tree: string }> {
  const { stdout } = await runGitScript('git add -A -- . && exec git write-tree', { cwd: dir, env: gitEnv() })
  const tree = stdout.toString('utf8').trim()
  const commit = await writeCommitObject(objectDir, { tree, parents: [parent], identity, message })
  return { commit, tree }
}

/** A worktree waiting in the pool: `commit` is what it has checked out, when it was made ready ahead for one. */
interface IdleWorktree {
  dir: string
  /** Set while (or once) it is being made ready at this commit for a job about to start. */
  commit?: string
  /** Resolves false when making it ready failed: it is then removed, not used. */
  ready: Promise<boolean>
}

/** What a job about to start needs: `count` worktrees of `repo` at `commit`. */
export interface WorktreeWant {
  repo: string
  commit: string
  count: number
}

/**
 * Worktrees kept between jobs of one repository: a new job takes an idle one and checks its
 * snapshot out there, which writes only the files that differ (a fresh 5,000-file worktree takes
 * seconds; switching one to the next snapshot takes milliseconds). A worktree goes back to the
 * pool only when its job committed everything in it (B's `git add -A`), so after the switch it
 * holds exactly the new snapshot's files; ignored files (dependency folders, build caches) stay,
 * as a CI cache would keep them. Any other worktree is removed.
 *
 * `prepare` makes worktrees ready ahead, at the snapshots of jobs waiting for a slot: the
 * checkout runs while the slots are busy, so a freed slot starts its next job at once.
 */
export class WorktreePool {
  private readonly idle = new Map<string, IdleWorktree[]>()
  private made = 0

  constructor (private readonly root: string, private readonly maxIdlePerRepo: number) {}

  /** A worktree of `repo` with `commit` checked out, detached: one made ready for it, a recycled one, or a new one. */
  async acquire (repo: string, commit: string, name: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const list = this.idle.get(repo) ?? []
    for (;;) {
      // One made ready at this very commit first, then a finished one, then one made ready for
      // another job (which makes its own when it starts): switching beats making a new one.
      const at = list.findIndex(entry => entry.commit === commit)
      const finished = list.findIndex(entry => entry.commit === undefined)
      const index = at !== -1 ? at : finished !== -1 ? finished : list.length - 1
      if (index === -1) break
      const [entry] = list.splice(index, 1)
      if (!await entry!.ready) {
        await removeWorktree(repo, entry!.dir)
        continue
      }
      if (entry!.commit === commit) return entry!.dir
      try {
        await checkoutDetached(entry!.dir, commit, options.signal)
        return entry!.dir
      } catch {
        await removeWorktree(repo, entry!.dir)
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
      idle.push({ dir, ready: Promise.resolve(true) })
      this.idle.set(repo, idle)
      return
    }
    await removeWorktree(repo, dir)
  }

  /**
   * Makes worktrees ready in the background for jobs about to start: for each want, idle
   * worktrees no want asks for are switched to its commit, and new ones are made while the pool
   * has room. Wants already met cost nothing.
   */
  prepare (wants: readonly WorktreeWant[]): void {
    const wanted = new Set(wants.map(want => `${want.repo}\0${want.commit}`))
    for (const want of wants) {
      const list = this.idle.get(want.repo) ?? []
      this.idle.set(want.repo, list)
      let have = list.filter(entry => entry.commit === want.commit).length
      while (have < want.count) {
        const spare = list.find(entry => entry.commit === undefined || !wanted.has(`${want.repo}\0${entry.commit}`))
        if (spare !== undefined) {
          const previous = spare.ready
          spare.commit = want.commit
          spare.ready = previous.then(async ok => ok && await checkoutDetached(spare.dir, want.commit).then(() => true, () => false))
        } else if (list.length < this.maxIdlePerRepo) {
          const dir = path.join(this.root, `ahead-${process.pid}-${this.made++}`)
          list.push({ dir, commit: want.commit, ready: createWorktree(want.repo, dir, want.commit).then(() => true, () => false) })
        } else {
          break
        }
        have++
      }
    }
  }

  /** Removes every idle worktree (the builder is stopping), once any being made ready is done. */
  async drain (): Promise<void> {
    const idle = [...this.idle]
    this.idle.clear()
    for (const [repo, entries] of idle) {
      for (const entry of entries) {
        await entry.ready
        await removeWorktree(repo, entry.dir)
      }
    }
  }
}

async function checkoutDetached (dir: string, commit: string, signal?: AbortSignal): Promise<void> {
  await runGit(['checkout', '--detach', '--force', '-q', commit], { cwd: dir, signal })
}
