import { IllegalTransitionError } from './errors.js'
import type { Job, JobState } from './job.js'

/**
 * The author's job state machine: for each state, the states a job may move to within its round.
 * Every state change goes through `JobStore.transition`, which checks this table in the same
 * database write. docs/architecture.md ("Job states") draws it.
 *
 * A new round (`nextRound`, round + 1) is the one other way to change state: from any state back
 * to `queued`. It is not in the table because it is not a step of the round the job is in; the
 * callers decide when one is allowed (a watched prompt file's save refuses a `merged` job).
 */
export const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  // placed on a builder; a dead dependency; `gitmesh cancel`; a late result of this round from a
  // builder that lost or handed the job back
  queued: ['offered', 'failed', 'cancelled', 'returned'],
  // Active states: the builder's `status` moves the job between them (the status handler refuses
  // a step back within an attempt; a later attempt starts again at `generating`); a declined
  // offer goes back to where it came from (`queued` or `lost`); handback; lost; cancel; a result
  // without a commit; the round's result.
  // `setup` comes once per round, between `fetching` and the first `generating`; a failed setup
  // ends the round with a result without a commit (`failed`).
  offered: ['fetching', 'setup', 'generating', 'testing', 'queued', 'lost', 'cancelled', 'failed', 'returned'],
  fetching: ['offered', 'setup', 'generating', 'testing', 'queued', 'lost', 'cancelled', 'failed', 'returned'],
  setup: ['offered', 'fetching', 'generating', 'testing', 'queued', 'lost', 'cancelled', 'failed', 'returned'],
  generating: ['offered', 'fetching', 'setup', 'testing', 'queued', 'lost', 'cancelled', 'failed', 'returned'],
  testing: ['offered', 'fetching', 'setup', 'generating', 'queued', 'lost', 'cancelled', 'failed', 'returned'],
  // waits like `queued`
  lost: ['offered', 'failed', 'cancelled', 'returned'],
  // `gitmesh merge`; `gitmesh reject` (without -m: with -m it is a new round)
  returned: ['merged', 'rejected'],
  // `gitmesh accept`; `gitmesh reject`
  merged: ['accepted', 'rejected'],
  // Final within their round: only a new round leaves them.
  accepted: [],
  rejected: [],
  failed: [],
  cancelled: []
}

/** True when a job in `from` may move to `to` within its round. */
export function canTransition (from: JobState, to: JobState): boolean {
  return TRANSITIONS[from].includes(to)
}

/**
 * Throws IllegalTransitionError unless `job` may move to `to`: within its round by the table, or,
 * when `round` is the job's next round, back to `queued` from any state.
 */
export function checkTransition (job: Pick<Job, 'id' | 'name' | 'state' | 'round'>, to: JobState, round: number = job.round): void {
  const allowed = round === job.round ? canTransition(job.state, to) : round === job.round + 1 && to === 'queued'
  if (!allowed) throw new IllegalTransitionError(job, to, round)
}
