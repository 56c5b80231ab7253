import { z } from 'zod'
import type { Author } from '../author/author.js'
import { MAX_ATTEMPTS, MAX_JOB_QUERY_CHARS } from '../jobs/constants.js'
import { MAX_LOGS_PAGE_BYTES, MAX_LOGS_TAIL_LINES } from '../logs/constants.js'
import { parseMessage } from '../wire/channel.js'
import { InvalidRequestError } from './errors.js'
import type { ControlMethod } from './control-server.js'
import { RUNNING, type LogsView } from './views.js'

const logsParams = z.object({
  job: z.string().min(1).max(MAX_JOB_QUERY_CHARS),
  round: z.number().int().min(1).optional(),
  attempt: z.number().int().min(0).max(MAX_ATTEMPTS).optional(),
  from: z.number().int().nonnegative().optional(),
  tail: z.number().int().min(1).max(MAX_LOGS_TAIL_LINES).optional()
})

function params<T> (schema: z.ZodType<T>, value: unknown): T {
  try {
    return parseMessage(schema, value)
  } catch (err) {
    throw new InvalidRequestError((err as Error).message.replace(/^invalid /, ''))
  }
}

/**
 * `logs`: a job round's live output, a page at a time from a cursor (`from`, the last `seq` seen),
 * or its last lines (`tail`). New chunks reach followers as `log` events of `watch`; a follower
 * reads from its cursor first and then takes only events past it, so it neither misses nor
 * repeats a line (`gitmesh logs -f`).
 */
export function logMethods (author: Author): Record<string, ControlMethod> {
  return {
    logs: async (raw): Promise<LogsView> => {
      const p = params(logsParams, raw)
      const job = author.jobs.find(p.job)
      const round = p.round ?? job.round
      if (round > job.round) throw new InvalidRequestError(`${job.name} has no round ${round} (it is at round ${job.round})`)
      const store = author.logs
      const base = { job: job.id, name: job.name, state: job.state, round, running: RUNNING.includes(job.state) }
      if (store === undefined) return { ...base, chunks: [], next: p.from ?? 0, more: false, dropped: [], tail: null }
      if (p.tail !== undefined) {
        return { ...base, chunks: [], next: p.from ?? 0, more: false, dropped: store.dropped(job.id, round), tail: store.tail(job.id, round, p.tail, p.attempt) ?? null }
      }
      const page = store.read(job.id, { round, attempt: p.attempt, from: p.from, maxBytes: MAX_LOGS_PAGE_BYTES })
      return { ...base, ...page, dropped: store.dropped(job.id, round), tail: null }
    }
  }
}
