import type { Job } from '../jobs/job.js'
import type { HOOK_EVENTS } from './constants.js'

export type HookEvent = typeof HOOK_EVENTS[number]

/**
 * The event a job's new state is, when it needs the user: a result came back, the job failed, or
 * a merge left conflicts. Every other change (attempts, retries, accepts) is not one.
 */
export function eventOf (job: Job): HookEvent | undefined {
  if (job.state === 'returned') return 'returned'
  if (job.state === 'failed') return 'failed'
  if (job.state === 'merged' && (job.merge?.conflicts.length ?? 0) > 0) return 'conflicts'
  return undefined
}

/** A one-line title and body for a desktop notification of `event`. */
export function notificationText (event: HookEvent, job: Job): { title: string, body: string } {
  if (event === 'returned') {
    const tests = job.result?.passed === true ? 'tests pass' : 'tests fail'
    return { title: `gitmesh: ${job.name} returned`, body: `${job.name}: ${tests}. Review with: gitmesh diff ${job.name}` }
  }
  if (event === 'failed') return { title: `gitmesh: ${job.name} failed`, body: `${job.name}: ${job.reason ?? 'no result'}` }
  const conflicts = job.merge?.conflicts ?? []
  return { title: `gitmesh: ${job.name} merged with conflicts`, body: `${job.name}: conflicts in ${conflicts.slice(0, 3).join(', ')}${conflicts.length > 3 ? ', …' : ''}` }
}
