import type { Author } from '../author/author.js'
import type { BuilderLoad } from '../author/placement.js'
import { ACTIVE_STATES, ENDED_STATES, type FanoutStop, type Job, type JobResult, type JobState, type RanOn } from '../jobs/job.js'
import type { JobOwnership } from '../jobs/job-store.js'
import { ownsOverlap } from '../jobs/ownership.js'
import type { LogChunk } from '../logs/log-store.js'

/**
 * The JSON the control API answers with, declared once: the daemon builds these views and the CLI
 * (and the tests) read them with these types. docs/cli.md documents every key; a key added here
 * belongs there too (test/e2e/views.test.ts compares a job's keys with the documented list).
 */

/** One attempt of a round, as reported with its result. */
export interface AttemptView {
  round: number
  number: number
  passed: boolean
  ms: number
  generateMs: number
  testMs: number
  /** Tokens and cost the agent reported for this attempt; null when its generator reports none. */
  inputTokens: number | null
  outputTokens: number | null
  costUsd: number | null
  /** Only when logs were asked for (`show --log`). */
  log?: string
}

/** Tokens and cost summed over a job's attempts (every round); a figure no attempt reported is null. */
export interface UsageView {
  inputTokens: number | null
  outputTokens: number | null
  costUsd: number | null
}

/** The job's result: one of its candidates, without its receipt and stats. */
export type ResultView = Pick<JobResult, 'commit' | 'passed' | 'builder' | 'summary' | 'committedAt' | 'receivedAt'>

/** The merge into the working tree. */
export interface MergeView {
  /** Null only while a merge in progress has not taken its snapshot yet. */
  w0: string | null
  paths: string[]
  conflicts: string[]
  testPassed: boolean | null
  /** Only when logs were asked for (`show --log`). */
  testOutput?: string
}

/** One result of the current round (fan-out: several). */
export interface CandidateView {
  number: number
  commit: string
  passed: boolean
  builder: string
  receivedAt: number
  /** The job's result: the first passing candidate (or the last failing one). */
  proposed: boolean
  files: number | null
  added: number | null
  removed: number | null
  ms: number | null
}

/** The load a builder last advertised. */
export interface BuilderLoadView {
  slots: number
  running: number
  queued: number
  reachable: boolean
}

/** Why no builder can take a waiting job, and for how long that has been so. */
export interface WaitingForView {
  reason: string
  sinceMs: number
}

/** A job, as `show`, `jobs`, `offer --wait` and the review commands print it. */
export interface JobView {
  id: string
  name: string
  state: JobState
  reason: string | null
  prompt: string
  repo: string
  snapshot: string
  builder: string | null
  round: number
  attempt: number
  attemptsBudget: number
  progress: string | null
  test: string
  /** gitmesh.json's setup step (run once per round before attempt 1, cached by `key`), or null. */
  setup: { command: string, key: string[] } | null
  attempts: AttemptView[]
  /** Summed over `attempts`; null when no attempt reported any usage. */
  usage: UsageView | null
  result: ResultView | null
  merge: MergeView | null
  acceptedCommit: string | null
  priority: number
  after: string[]
  owns: string[]
  fanout: number
  builders: string[]
  /** Fan-out builders besides `builder` (after a result: those still running). */
  fanoutBuilders: string[]
  fanoutStop: FanoutStop
  stack: boolean
  /** The commit this round runs on, and why. */
  ranOn: RanOn | null
  blockedBy: { job: string, reason: string } | null
  outsideOwns: string[]
  candidates: CandidateView[]
  overlaps: string[]
  waitingFor: WaitingForView | null
  builderLoad: BuilderLoadView | null
  elapsedMs: number
  createdAt: number
  updatedAt: number
}

/** `submit-task`'s answer: the job, and what became of the round it replaced. */
export interface SubmittedTaskView extends JobView {
  /** The state of the round a save replaced; null for a new job. */
  replaced: JobState | null
  /** The job already had this version: nothing was done. */
  unchanged: boolean
}

/** A piece of a job's live output: `seq` orders every chunk the author holds (a follower's cursor). */
export type LogChunkView = LogChunk

/** `logs`: a page of a job round's live output, or its last lines. */
export interface LogsView {
  job: string
  name: string
  state: JobState
  round: number
  /** The job is not over yet: more may come. */
  running: boolean
  chunks: LogChunkView[]
  /** The cursor to ask from next (`from`). */
  next: number
  /** More chunks wait past this page. */
  more: boolean
  /** Bytes each attempt lost: past the bound (docs/limits.md), or gone on the builder first. */
  dropped: Array<{ attempt: number, bytes: number }>
  /** With `tail`: the last lines of the latest attempt (or the one asked for). */
  tail: { attempt: number, lines: string[] } | null
}

/**
 * A `watch` event: a job changed; with `logs: true`, also the stream is subscribed (first, once)
 * and a chunk of live output arrived.
 */
export type WatchEvent = { type: 'watching' } | { type: 'job', job: JobView } | { type: 'log', job: string, chunk: LogChunkView }

/** A trusted builder as `builders` lists it: its last advertised load and our jobs it holds. */
export interface BuilderView {
  peerId: string
  slots: number | null
  running: number | null
  queued: number | null
  tags: string[]
  reachable: boolean | null
  jobs: string[]
}

/** The daemon's memory in bytes: resident, V8's heap in use, and the buffers outside that heap. */
export interface MemoryView {
  rss: number
  heapUsed: number
  arrayBuffers: number
}

/** This node as `id` shows it. */
export interface IdView {
  peerId: string
  addrs: string[]
  /** Its builder's slots and jobs, or null when it is not a builder. */
  builder: { slots: number, running: number, queued: number } | null
  memory: MemoryView
}

/** One finding of `gitmesh doctor`: what was checked, how it stands and, when it is a problem, what to do. */
export interface DoctorCheck {
  area: 'daemon' | 'network' | 'peer' | 'builder' | 'project'
  /** What was checked, e.g. a listen address, a peer id or `gitmesh.json`. */
  subject: string
  status: 'ok' | 'warn' | 'fail'
  detail: string
  /** What to do about a `warn` or `fail`. */
  fix?: string
}

/** A trusted peer as `peers` lists it; a builder's last advertised load too. */
export interface PeerView {
  peerId: string
  roles: string[]
  connected: boolean
  addrs: string[]
  lastRttMs: number | null
  lastSeenAt: number | null
  slots?: number | null
  running?: number | null
  queued?: number | null
  tags?: string[]
}

/**
 * Running jobs of the same repository whose `owns:` may overlap this one's (only for running
 * jobs). `running` may be given when many jobs are shown at once, so it is read once.
 */
function overlapping (author: Author, job: Job, running?: readonly JobOwnership[]): string[] {
  if (!RUNNING.includes(job.state)) return []
  return (running ?? author.jobs.ownership(RUNNING))
    .filter(other => other.id !== job.id && other.repo === job.repo && ownsOverlap(job.owns, other.owns))
    .map(other => other.name)
}

/** Why a waiting job cannot be placed at all, and for how long that has been so. */
function waitingForView (author: Author, job: Job): WaitingForView | null {
  const problem = author.placementProblem(job.id)
  return problem === undefined ? null : { reason: problem.reason, sinceMs: Date.now() - problem.since }
}

function builderLoadView (load: BuilderLoad | undefined): BuilderLoadView | null {
  return load === undefined ? null : { slots: load.slots, running: load.running, queued: load.queued, reachable: load.reachable }
}

/** The states of a job not finished yet, whose `owns` overlaps are shown. */
export const RUNNING: readonly JobState[] = [...ACTIVE_STATES, 'queued', 'lost']

/** What a job view is built with besides the job. */
export interface ViewContext {
  /** Include every attempt's log. */
  withLogs?: boolean
  /** The jobs that may overlap (read once for a whole listing). */
  running?: readonly JobOwnership[]
}

/** How long a job has taken: until now while it is not over, until its last change once it is. */
function elapsedMs (job: Job): number {
  return (ENDED_STATES.includes(job.state) ? job.updatedAt : Date.now()) - job.createdAt
}

/** The attempts' usage summed, figure by figure. */
export function usageView (attempts: readonly AttemptView[]): UsageView | null {
  const total = (key: keyof UsageView): number | null => {
    const figures = attempts.map(a => a[key]).filter((n): n is number => n !== null)
    return figures.length === 0 ? null : figures.reduce((a, b) => a + b, 0)
  }
  const usage = { inputTokens: total('inputTokens'), outputTokens: total('outputTokens'), costUsd: total('costUsd') }
  return Object.values(usage).every(v => v === null) ? null : usage
}

/** The JSON a job is shown as (docs/cli.md lists the keys); logs only when asked. */
export function jobView (author: Author, job: Job, { withLogs = false, running }: ViewContext = {}): JobView {
  const attempts = author.jobs.attempts(job.id).map((a): AttemptView => ({
    round: a.round,
    number: a.number,
    passed: a.passed,
    ms: a.ms,
    generateMs: a.generateMs,
    testMs: a.testMs,
    inputTokens: a.inputTokens ?? null,
    outputTokens: a.outputTokens ?? null,
    costUsd: a.costUsd ?? null,
    ...(withLogs ? { log: a.log } : {})
  }))
  return {
    id: job.id,
    name: job.name,
    state: job.state,
    reason: job.reason ?? null,
    prompt: job.prompt,
    repo: job.repo,
    snapshot: job.snapshot,
    builder: job.builder ?? null,
    round: job.round,
    attempt: job.attempt,
    attemptsBudget: job.attemptsBudget,
    progress: job.progress ?? null,
    test: job.test,
    setup: job.setup ?? null,
    attempts,
    usage: usageView(attempts),
    result: job.result === undefined
      ? null
      : { commit: job.result.commit, passed: job.result.passed, builder: job.result.builder, summary: job.result.summary, committedAt: job.result.committedAt, receivedAt: job.result.receivedAt },
    merge: job.merge === undefined
      ? null
      : { w0: job.merge.w0 ?? null, paths: job.merge.paths, conflicts: job.merge.conflicts, testPassed: job.merge.testPassed ?? null, ...(withLogs ? { testOutput: job.merge.testOutput ?? '' } : {}) },
    acceptedCommit: job.acceptedCommit ?? null,
    priority: job.priority,
    after: job.after,
    owns: job.owns,
    fanout: job.fanout,
    builders: job.builders,
    fanoutBuilders: job.extraBuilders,
    fanoutStop: job.fanoutStop,
    stack: job.stack,
    ranOn: job.ranOn ?? null,
    blockedBy: job.blockedBy ?? null,
    outsideOwns: job.outsideOwns ?? [],
    candidates: author.jobs.candidates(job.id, job.round).map((c): CandidateView => ({
      number: c.number,
      commit: c.commit,
      passed: c.passed,
      builder: c.builder,
      receivedAt: c.receivedAt,
      proposed: c.commit === job.result?.commit,
      files: c.stats?.files ?? null,
      added: c.stats?.added ?? null,
      removed: c.stats?.removed ?? null,
      ms: c.stats?.ms ?? null
    })),
    overlaps: overlapping(author, job, running),
    waitingFor: waitingForView(author, job),
    builderLoad: builderLoadView(job.builder === undefined ? undefined : author.builderLoad(job.builder)),
    elapsedMs: elapsedMs(job),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt
  }
}

/** `gitmesh prune --json`: what went (or would go, with `dryRun`), and what was kept and why. */
export interface PruneView {
  dryRun: boolean
  olderThanMs: number
  /** Jobs this node authored, each with the refs deleted from its repository. */
  removed: Array<{ id: string, name: string, state: JobState, repo: string, updatedAt: number, refs: string[], refsNote: string | null }>
  /** Old jobs kept: waiting for review (without --force), or depended on by an unfinished job. */
  kept: Array<{ name: string, state: JobState, reason: string }>
  /** Jobs this node ran as a builder, over and acknowledged. */
  builderJobs: Array<{ author: string, id: string, name: string, state: string, updatedAt: number }>
}
