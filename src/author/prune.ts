import { runGit } from '../git/git-process.js'
import { locateRepository } from '../git/repository.js'
import type { Job, JobState } from '../jobs/job.js'
import type { JobStore } from '../jobs/job-store.js'
import { MAX_REFS_PER_DELETE } from './constants.js'

/** States a job is over in: pruned once old enough. */
export const PRUNED_STATES: readonly JobState[] = ['accepted', 'rejected', 'failed', 'cancelled']

/** States a job waits for the user's review in: pruned only with `force`. */
export const REVIEW_STATES: readonly JobState[] = ['returned', 'merged']

export interface PruneOptions {
  /** Jobs whose last change is older than this (ms) go. */
  olderThanMs: number
  /** Also jobs waiting for review (returned, merged). */
  force?: boolean
  /** List what would go; remove nothing. */
  dryRun?: boolean
  /** @default Date.now() */
  now?: number
  /** Called after refs were deleted from `repo` (the exchange forgets the haves it read from them). */
  refsDeleted?: (repo: string) => Promise<void>
  /** Called once a job's record is gone, to remove what is kept of it elsewhere (its live logs). */
  deleted?: (jobId: string) => void
}

export interface PrunedJob {
  id: string
  name: string
  state: JobState
  repo: string
  updatedAt: number
  /** The job's refs in its repository, deleted with it. */
  refs: string[]
  /** Why its refs were left (the repository is gone), if they were. */
  refsNote?: string
}

export interface KeptJob {
  name: string
  state: JobState
  reason: string
}

/**
 * The refs a job leaves in its repository: its result, fan-out candidates, the W0 of a merge and
 * the tree a reject replaced (src/author/results.ts, src/author/review.ts).
 */
export function jobRefPatterns (name: string): string[] {
  return [`refs/gitmesh/results/${name}`, `refs/gitmesh/candidates/${name}`, `refs/gitmesh/w0/${name}`, `refs/gitmesh/before-reject/${name}`]
}

/**
 * Removes old jobs: those over (accepted, rejected, failed, cancelled) whose last change is older
 * than `olderThanMs`, and with `force` those waiting for review too; each with its attempts, its
 * candidates, its refs and (through `deleted`) its live logs. A job that an unfinished job depends on (`after:`, or a stacked
 * round's base) is kept: its dependent would wait for it forever.
 */
export async function pruneJobs (jobs: JobStore, options: PruneOptions): Promise<{ removed: PrunedJob[], kept: KeptJob[] }> {
  const cutoff = (options.now ?? Date.now()) - options.olderThanMs
  const all = jobs.list()
  const needed = new Map<string, string>()
  for (const job of all) {
    if (PRUNED_STATES.includes(job.state)) continue
    for (const name of [...job.after, ...(job.ranOn?.job !== undefined ? [job.ranOn.job] : [])]) needed.set(name, job.name)
  }
  const removed: PrunedJob[] = []
  const kept: KeptJob[] = []
  for (const job of all) {
    if (job.updatedAt >= cutoff) continue
    const over = PRUNED_STATES.includes(job.state)
    const inReview = REVIEW_STATES.includes(job.state)
    if (!over && !inReview) continue
    if (inReview && options.force !== true) {
      kept.push({ name: job.name, state: job.state, reason: 'waiting for review: prune it with --force, or accept or reject it' })
      continue
    }
    const dependent = needed.get(job.name)
    if (dependent !== undefined) {
      kept.push({ name: job.name, state: job.state, reason: `${dependent} depends on it` })
      continue
    }
    removed.push(await prune(jobs, job, options))
  }
  return { removed, kept }
}

async function prune (jobs: JobStore, job: Job, options: PruneOptions): Promise<PrunedJob> {
  const dryRun = options.dryRun === true
  const pruned: PrunedJob = { id: job.id, name: job.name, state: job.state, repo: job.repo, updatedAt: job.updatedAt, refs: [] }
  let gitDir: string
  try {
    gitDir = (await locateRepository(job.repo)).gitDir
  } catch (err) {
    // The repository was moved or deleted: the job's record still goes; its refs went with it.
    pruned.refsNote = `refs not looked for: ${(err as Error).message}`
    if (!dryRun) {
      jobs.delete(job.id)
      options.deleted?.(job.id)
    }
    return pruned
  }
  const listed = await runGit(['for-each-ref', '--format=%(refname)', ...jobRefPatterns(job.name)], { cwd: gitDir })
  pruned.refs = listed.stdout.toString('utf8').split('\n').filter(ref => ref !== '')
  if (dryRun) return pruned
  // Refs first, then the record: a prune cut short leaves a record that a next prune finishes,
  // never refs that nothing names any more.
  for (let start = 0; start < pruned.refs.length; start += MAX_REFS_PER_DELETE) {
    const input = pruned.refs.slice(start, start + MAX_REFS_PER_DELETE).map(ref => `delete ${ref}\n`).join('')
    await runGit(['update-ref', '--stdin'], { cwd: gitDir, input })
  }
  if (pruned.refs.length > 0) await options.refsDeleted?.(job.repo)
  jobs.delete(job.id)
  options.deleted?.(job.id)
  return pruned
}
