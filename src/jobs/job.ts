/** The job model shared by the author's store, the control API and the CLI. */

export const JOB_STATES = ['queued', 'offered', 'fetching', 'generating', 'testing', 'lost', 'returned', 'merged', 'accepted', 'rejected', 'failed', 'cancelled'] as const
export type JobState = typeof JOB_STATES[number]

/** States in which a builder holds the job. */
export const ACTIVE_STATES: readonly JobState[] = ['offered', 'fetching', 'generating', 'testing']

/** States `offer --wait` stops at: a result is here, or none will come. */
export const ENDED_STATES: readonly JobState[] = ['returned', 'merged', 'accepted', 'rejected', 'failed', 'cancelled']

export interface AttemptSummary {
  round: number
  number: number
  passed: boolean
  generateMs: number
  testMs: number
  ms: number
}

export interface JobResult {
  commit: string
  passed: boolean
  builder: string
  summary: string
  /** Builder's clock when it committed B (ms since the epoch). */
  committedAt: number
  /** Author's clock when B was stored and the ref set. */
  receivedAt: number
  /** The signed result message as received, base64 of its CBOR encoding (the builder's receipt). */
  receipt: string
}

export interface MergeRecord {
  /** Absent only while a merge in progress has not taken its snapshot yet (nothing is written before it). */
  w0?: string
  paths: string[]
  conflicts: string[]
  /** True while files are being written: a restart finding it rolls the working tree back to W0. */
  inProgress: boolean
  /** The commit an accept made, recorded before HEAD moves to it: a restart finds out whether it did, and finishes. */
  accepting?: { commit: string, parent?: string }
  mergedAt?: number
  testPassed?: boolean
  testOutput?: string
}

export interface Job {
  id: string
  name: string
  repo: string
  prompt: string
  snapshot: string
  state: JobState
  reason?: string
  builder?: string
  test: string
  attemptsBudget: number
  generateTimeoutMs: number
  testTimeoutMs: number
  round: number
  attempt: number
  progress?: string
  result?: JobResult
  merge?: MergeRecord
  acceptedCommit?: string
  /** Higher runs first among queued jobs. */
  priority: number
  /** Names of jobs that must be accepted before this one is offered. */
  after: string[]
  /** Path globs the job may change; empty: any path. */
  owns: string[]
  /** How many builders get the job at once. */
  fanout: number
  /** Peer ids or tags the job may run on; empty: any builder. */
  builders: string[]
  /** Fan-out: the builders besides `builder` running this round. */
  extraBuilders: string[]
  /** Why the job is held back: a dependency not accepted yet, or one that failed. */
  blockedBy?: { job: string, reason: string }
  /** Paths the result changed outside `owns`: it cannot be accepted without --force. */
  outsideOwns?: string[]
  createdAt: number
  updatedAt: number
}
