import path from 'node:path'
import { z } from 'zod'
import type { Author } from '../author/author.js'
import type { BuilderLoad } from '../author/scheduler.js'
import type { Job } from '../jobs/job.js'
import type { JobOwnership } from '../jobs/job-store.js'
import { MAX_JOB_QUERY_CHARS, MAX_PROMPT_CHARS } from '../jobs/constants.js'
import { describeIssue, jobName, promptText, taskOptionFields, taskOptionsObject } from '../jobs/task-options.js'
import { ownsOverlap } from '../jobs/ownership.js'
import { ACTIVE_STATES, ENDED_STATES } from '../jobs/job.js'
import { parseMessage } from '../wire/channel.js'
import { InvalidRequestError } from './errors.js'
import type { ControlMethod } from './control-server.js'

function params<T> (schema: z.ZodType<T>, value: unknown): T {
  try {
    return parseMessage(schema, value)
  } catch (err) {
    throw new InvalidRequestError((err as Error).message.replace(/^invalid /, ''))
  }
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
function waitingForView (author: Author, job: Job): { reason: string, sinceMs: number } | null {
  const problem = author.placementProblem(job.id)
  return problem === undefined ? null : { reason: problem.reason, sinceMs: Date.now() - problem.since }
}

function builderLoadView (load: BuilderLoadView | undefined): BuilderLoadView | null {
  return load === undefined ? null : { slots: load.slots, running: load.running, queued: load.queued, reachable: load.reachable }
}

const RUNNING: readonly Job['state'][] = [...ACTIVE_STATES, 'queued', 'lost']

/** The JSON a job is shown as (docs/cli.md lists the keys); logs only when asked. */
interface ViewContext {
  /** Include every attempt's log. */
  withLogs?: boolean
  /** The jobs that may overlap (read once for a whole listing). */
  running?: readonly JobOwnership[]
}

type BuilderLoadView = Pick<BuilderLoad, 'slots' | 'running' | 'queued' | 'reachable'>

/** How long a job has taken: until now while it is not over, until its last change once it is. */
function elapsedMs (job: Job): number {
  return (ENDED_STATES.includes(job.state) ? job.updatedAt : Date.now()) - job.createdAt
}

export function jobView (author: Author, job: Job, { withLogs = false, running }: ViewContext = {}): Record<string, unknown> {
  const attempts = author.jobs.attempts(job.id).map(a => ({
    round: a.round,
    number: a.number,
    passed: a.passed,
    ms: a.ms,
    generateMs: a.generateMs,
    testMs: a.testMs,
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
    attempts,
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
    candidates: author.jobs.candidates(job.id, job.round).map(c => ({
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

const absolutePath = z.string().refine(p => path.isAbsolute(p), 'must be an absolute path')

/** `offer`: the task options of src/jobs/task-options.ts, as `gitmesh offer` and prompt files check them. */
const offerParams = taskOptionsObject({ repo: absolutePath, prompt: promptText, ...taskOptionFields })

/** `submit-task`: the same, named (a watched file's job is found again by its name). */
const submitTaskParams = taskOptionsObject({ repo: absolutePath, prompt: promptText, ...taskOptionFields, name: jobName })

/** Task options are refused with the field and the rule, as the other edges word them. */
function taskParams<T> (schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value)
  if (!result.success) throw new InvalidRequestError(describeIssue(result.error))
  return result.data
}

/** A job just offered, after a look at whether any builder can take it: `offer` says so at once. */
function explained (author: Author, job: Job): Job {
  if (job.state === 'queued' && job.blockedBy === undefined) author.explainPlacement(job)
  return job
}

const jobQuery = z.object({ job: z.string().min(1).max(MAX_JOB_QUERY_CHARS) })

export function jobMethods (author: Author): Record<string, ControlMethod> {
  return {
    offer: async (raw) => {
      const p = taskParams(offerParams, raw)
      return jobView(author, explained(author, await author.offer(p)))
    },

    jobs: async () => {
      const all = author.jobs.list()
      const running = all.filter(job => RUNNING.includes(job.state))
      // Builders whose load is not fresh are asked first, so each job shows its builder's load now.
      await author.builderLoads()
      return all.map(job => jobView(author, job, { running }))
    },

    show: async (raw) => {
      const p = params(jobQuery.extend({ log: z.boolean().optional() }), raw)
      return jobView(author, author.jobs.find(p.job), { withLogs: p.log === true })
    },

    merge: async (raw) => {
      const p = params(jobQuery, raw)
      return jobView(author, await author.review.merge(author.jobs.find(p.job)))
    },

    accept: async (raw) => {
      const p = params(jobQuery.extend({ force: z.boolean().optional(), withMyEdits: z.boolean().optional() }), raw)
      return jobView(author, await author.review.accept(author.jobs.find(p.job), { force: p.force === true, withMyEdits: p.withMyEdits === true }))
    },

    builders: async () => await author.builderLoads(),

    /** A task from a watched prompt file: a new job, or a new round of the job of that name. */
    'submit-task': async (raw) => {
      const p = taskParams(submitTaskParams, raw)
      const { job, replaced, unchanged } = await author.submitTask(p)
      return { ...jobView(author, explained(author, job)), replaced: replaced ?? null, unchanged: unchanged === true }
    },

    reject: async (raw) => {
      const p = params(jobQuery.extend({ message: z.string().max(MAX_PROMPT_CHARS).optional() }), raw)
      return jobView(author, await author.reject(author.jobs.find(p.job), p.message))
    },

    cancel: async (raw) => {
      const p = params(jobQuery, raw)
      return jobView(author, await author.cancel(author.jobs.find(p.job)))
    },

    /** Streams every job change as an event until the caller hangs up. */
    watch: async (_raw, emit, signal) => {
      const onJob = (job: Job): void => { emit({ type: 'job', job: jobView(author, job) }) }
      author.on('job', onJob)
      try {
        await new Promise<void>(resolve => {
          if (signal.aborted) resolve()
          signal.addEventListener('abort', () => { resolve() }, { once: true })
        })
      } finally {
        author.off('job', onJob)
      }
      return null
    }
  }
}
