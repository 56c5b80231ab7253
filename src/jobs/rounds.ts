import type { Job } from './job.js'
import { initialRanOn, type TransitionFields } from './job-store.js'
import type { JobSettings } from './project-config.js'

/** The scheduling options of a job, as an offer validates them. */
export type SchedulingOptions = Pick<Job, 'priority' | 'after' | 'owns' | 'fanout' | 'builders' | 'stack' | 'fanoutStop'>

export interface NextRound {
  prompt: string
  snapshot: string
  /** The repository's gitmesh.json with the overrides in effect, read as a fresh offer reads it. */
  settings: JobSettings
  /** New scheduling options (a watched prompt file's front matter); absent: the job keeps its own. */
  scheduling?: SchedulingOptions
}

/**
 * The fields of a job's next round: round + 1, `queued`, nothing left of the round before (no
 * builder, fan-out builders, attempt, progress, result, merge, outside paths, block or reason),
 * the commit it runs on chosen afresh, and the prompt, snapshot and settings it runs with, set exactly as `Author.offer` sets them on a
 * new job. The one place a round starts: a rejection with -m and a watched prompt file's save
 * both come here, so neither can drop a setting the other keeps. Pass the result to
 * `JobStore.transition(id, 'queued', …)`.
 */
export function nextRound (job: Pick<Job, 'round' | 'after'>, next: NextRound): TransitionFields {
  return {
    // A job with dependencies runs on a commit chosen when they are ready, as a new job does.
    ranOn: initialRanOn(next.scheduling?.after ?? job.after, next.snapshot) ?? null,
    ...next.scheduling,
    round: job.round + 1,
    prompt: next.prompt,
    snapshot: next.snapshot,
    test: next.settings.test,
    attemptsBudget: next.settings.attempts,
    generateTimeoutMs: next.settings.generateTimeoutMs,
    testTimeoutMs: next.settings.testTimeoutMs,
    // null clears what the round before had: gitmesh.json may have dropped them since
    setup: next.settings.setup ?? null,
    projectTimeouts: next.settings.projectTimeouts ?? null,
    builder: undefined,
    extraBuilders: [],
    attempt: 0,
    progress: undefined,
    result: null,
    merge: null,
    blockedBy: null,
    outsideOwns: null,
    reason: undefined
  }
}
