import type { Logger } from '@libp2p/interface'
import { ensureBareRepository } from '../git/repository.js'
import { PREFETCH_TIMEOUT_MS } from '../jobs/constants.js'
import type { BuilderJob } from './builder-store.js'
import { cacheRepoPath } from './job-runner.js'
import type { WorktreePool, WorktreeWant } from './worktree.js'

export interface PrefetcherInit {
  workDir: string
  /** Fetches closure([snapshot]) from the author into the cache repository `repo`. */
  fetch: (author: string, snapshot: string, repo: string, options: { signal: AbortSignal }) => Promise<void>
  worktrees: WorktreePool
  log: Logger
  /** A snapshot arrived: the caller looks again at what to get ready. */
  onFetched: () => void
}

/**
 * Gets the jobs waiting for a slot ready to start while the slots are busy: every one's snapshot
 * fetched, and the next `slots` of them given worktrees checked out at their snapshots. A freed
 * slot then starts its next job at once, without a fetch or a checkout.
 */
export class Prefetcher {
  /** Snapshots fetched for waiting jobs (cache repository and commit), and those being fetched. */
  private readonly fetched = new Set<string>()
  private readonly fetching = new Set<string>()

  constructor (private readonly init: PrefetcherInit) {}

  /** `waiting`: the queued jobs in the order they will start. */
  prepare (waiting: readonly BuilderJob[], slots: number): void {
    const wants = new Map<string, WorktreeWant>()
    const needed = new Set<string>()
    for (const [index, job] of waiting.entries()) {
      const repo = cacheRepoPath(this.init.workDir, job.author, job.spec.repo)
      const key = `${repo}\0${job.spec.snapshot}`
      needed.add(key)
      if (!this.fetched.has(key)) {
        this.fetchAhead(job, repo, key)
        continue
      }
      if (index >= slots) continue
      const want = wants.get(key) ?? { repo, commit: job.spec.snapshot, count: 0 }
      want.count++
      wants.set(key, want)
    }
    // What no waiting job needs is forgotten (fetching it again would cost no round trip).
    for (const key of this.fetched) if (!needed.has(key)) this.fetched.delete(key)
    this.init.worktrees.prepare([...wants.values()])
  }

  private fetchAhead (job: BuilderJob, repo: string, key: string): void {
    if (this.fetching.has(key)) return
    this.fetching.add(key)
    void ensureBareRepository(repo)
      .then(async () => { await this.init.fetch(job.author, job.spec.snapshot, repo, { signal: AbortSignal.timeout(PREFETCH_TIMEOUT_MS) }) })
      .then(() => {
        this.fetched.add(key)
        this.init.onFetched()
      }, err => { this.init.log('prefetch of %s failed (the job will fetch it) - %e', job.spec.snapshot, err) })
      .finally(() => { this.fetching.delete(key) })
  }
}
