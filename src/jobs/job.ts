/** The job model shared by the author's store, the control API and the CLI. */

import type { JobSetup, ProjectTimeouts } from './project-config.js'

export const JOB_STATES = ['queued', 'offered', 'fetching', 'setup', 'generating', 'testing', 'lost', 'returned', 'merged', 'accepted', 'rejected', 'failed', 'cancelled'] as const
export type JobState = typeof JOB_STATES[number]

/** States in which a builder holds the job. */
export const ACTIVE_STATES: readonly JobState[] = ['offered', 'fetching', 'setup', 'generating', 'testing']

/** States `offer --wait` stops at: a result is here, or none will come. */
export const ENDED_STATES: readonly JobState[] = ['returned', 'merged', 'accepted', 'rejected', 'failed', 'cancelled']

export interface AttemptSummary {
  round: number
  number: number
  passed: boolean
  generateMs: number
  testMs: number
  ms: number
  /** Reported by an agent preset; absent when the generator reports no usage. */
  inputTokens?: number
  outputTokens?: number
  costUsd?: number
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
  /** The size of the change S → B and the builder's time on it (results taken before this have none). */
  stats?: ResultStats
}

/** What fan-out candidates are compared by. */
export interface ResultStats {
  files: number
  added: number
  removed: number
  /** The builder's time generating and testing, over all attempts of the round. */
  ms: number
}

/**
 * Which commit a job's round runs on, and why that one:
 * - `snapshot`: the author's working tree as it was when the job (or this round) was offered;
 * - `after-accept`: a snapshot taken once every `after:` dependency was accepted, so it holds their
 *   accepted changes;
 * - `stacked-on`: the passing result B of the dependency `job` (round `round`), before it is
 *   accepted (`stack: true`); re-run when that result is rejected or the dependency gets a new round.
 */
export interface RanOn {
  kind: 'snapshot' | 'after-accept' | 'stacked-on'
  commit: string
  /** `stacked-on`: the dependency whose result this round builds on. */
  job?: string
  /** `stacked-on`: the dependency's round that made the result. */
  round?: number
}

/** Fan-out: `none` keeps every builder running to the end; `first-pass` stops the others at the first passing result. */
export const FANOUT_STOPS = ['none', 'first-pass'] as const
export type FanoutStop = typeof FANOUT_STOPS[number]

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
  /** gitmesh.json's `setup` and `setupKey`, carried to the builder in the offer. */
  setup?: JobSetup
  /** The timeouts gitmesh.json sets itself (the builder's defaults apply to the rest). */
  projectTimeouts?: ProjectTimeouts
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
  /** Start on the (single) dependency's passing result instead of waiting for its acceptance. */
  stack: boolean
  /** When the other fan-out builders stop (see FanoutStop). */
  fanoutStop: FanoutStop
  /** The commit this round runs on; unset while a job with dependencies waits for them. */
  ranOn?: RanOn
  /** Fan-out: the builders besides `builder` running this round (after a result: those still running). */
  extraBuilders: string[]
  /** Why the job is held back: a dependency not accepted yet, or one that failed. */
  blockedBy?: { job: string, reason: string }
  /** Paths the result changed outside `owns`: it cannot be accepted without --force. */
  outsideOwns?: string[]
  createdAt: number
  updatedAt: number
}
