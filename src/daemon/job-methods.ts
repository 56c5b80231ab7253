import path from 'node:path'
import { z } from 'zod'
import type { Author } from '../author/author.js'
import { JOB_STATES, type Job } from '../jobs/job.js'
import { locateRepository } from '../git/repository.js'
import { MAX_JOB_QUERY_CHARS, MAX_PROMPT_CHARS } from '../jobs/constants.js'
import { describeIssue, jobName, promptText, taskOptionFields, taskOptionsObject } from '../jobs/task-options.js'
import { jobView, RUNNING, type BuilderView, type JobView, type SubmittedTaskView, type WatchEvent } from './views.js'
import type { LogChunk } from '../logs/log-store.js'
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

/** `jobs`: only jobs of one repository, in some states, changed within the last `sinceMs`. */
const jobsFilter = z.object({
  repo: absolutePath.optional(),
  states: z.array(z.enum(JOB_STATES)).min(1).max(JOB_STATES.length).optional(),
  sinceMs: z.number().int().nonnegative().optional()
})

const jobQuery = z.object({ job: z.string().min(1).max(MAX_JOB_QUERY_CHARS) })

export function jobMethods (author: Author): Record<string, ControlMethod> {
  return {
    offer: async (raw): Promise<JobView> => {
      const p = taskParams(offerParams, raw)
      return jobView(author, explained(author, await author.offer(p)))
    },

    jobs: async (raw): Promise<JobView[]> => {
      const p = params(jobsFilter, raw)
      const all = author.jobs.list()
      const running = all.filter(job => RUNNING.includes(job.state))
      // A repository is named by its working tree's top, as the job records it at `offer`.
      const repo = p.repo === undefined ? undefined : (await locateRepository(p.repo)).workTree
      const since = p.sinceMs === undefined ? undefined : Date.now() - p.sinceMs
      const shown = all.filter(job => (repo === undefined || job.repo === repo) &&
        (p.states === undefined || p.states.includes(job.state)) &&
        (since === undefined || job.updatedAt >= since))
      // Builders whose load is not fresh are asked first, so each job shows its builder's load now.
      await author.builderLoads()
      return shown.map(job => jobView(author, job, { running }))
    },

    show: async (raw): Promise<JobView> => {
      const p = params(jobQuery.extend({ log: z.boolean().optional() }), raw)
      return jobView(author, author.jobs.find(p.job), { withLogs: p.log === true })
    },

    merge: async (raw): Promise<JobView> => {
      const p = params(jobQuery, raw)
      return jobView(author, await author.review.merge(author.jobs.find(p.job)))
    },

    accept: async (raw): Promise<JobView> => {
      const p = params(jobQuery.extend({ force: z.boolean().optional(), withMyEdits: z.boolean().optional() }), raw)
      return jobView(author, await author.review.accept(author.jobs.find(p.job), { force: p.force === true, withMyEdits: p.withMyEdits === true }))
    },

    builders: async (): Promise<BuilderView[]> => await author.builderLoads(),

    /** A task from a watched prompt file: a new job, or a new round of the job of that name. */
    'submit-task': async (raw): Promise<SubmittedTaskView> => {
      const p = taskParams(submitTaskParams, raw)
      const { job, replaced, unchanged } = await author.submitTask(p)
      return { ...jobView(author, explained(author, job)), replaced: replaced ?? null, unchanged: unchanged === true }
    },

    reject: async (raw): Promise<JobView> => {
      const p = params(jobQuery.extend({ message: z.string().max(MAX_PROMPT_CHARS).optional() }), raw)
      return jobView(author, await author.reject(author.jobs.find(p.job), p.message))
    },

    cancel: async (raw): Promise<JobView> => {
      const p = params(jobQuery, raw)
      return jobView(author, await author.cancel(author.jobs.find(p.job)))
    },

    /**
     * Streams every job change as an event until the caller hangs up. With `logs: true`, also
     * every chunk of live output, after a first `watching` event that says the subscription is in
     * place (a follower then reads what came before without missing or repeating a chunk).
     */
    watch: async (raw, emit, signal) => {
      const p = params(z.object({ logs: z.boolean().optional() }), raw)
      const onJob = (job: Job): void => { emit({ type: 'job', job: jobView(author, job) } satisfies WatchEvent) }
      const onLog = (job: string, chunk: LogChunk): void => { emit({ type: 'log', job, chunk } satisfies WatchEvent) }
      author.on('job', onJob)
      if (p.logs === true) {
        author.on('log', onLog)
        emit({ type: 'watching' } satisfies WatchEvent)
      }
      try {
        await new Promise<void>(resolve => {
          if (signal.aborted) resolve()
          signal.addEventListener('abort', () => { resolve() }, { once: true })
        })
      } finally {
        author.off('job', onJob)
        author.off('log', onLog)
      }
      return null
    }
  }
}
