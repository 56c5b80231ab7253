import type { TrustStore } from '../store/trust-store.js'
import type { JobStore } from '../jobs/job-store.js'
import type { JobReplyMessage, LogBatch, LogRequest } from '../jobs/messages.js'
import { InvalidMessageError } from '../wire/errors.js'
import { plainLogBatch } from '../logs/deflate.js'
import { MAX_LOG_TEXT_BYTES } from '../logs/constants.js'
import type { LogChunk, LogStore } from '../logs/log-store.js'

export interface LogIntakeInit {
  jobs: JobStore
  trust: TrustStore
  store: LogStore
  /** Called with each chunk stored, for followers. */
  onChunk: (job: string, chunk: LogChunk) => void
}

/**
 * Takes in `log` messages: only from a peer trusted as a builder, for the current round of a job
 * that builder runs (or ran: a fan-out candidate, or the job's builder after its result), within
 * the size limit (a deflated text inflated within it). The reply's `offset` tells the builder where its stream stands here.
 */
export class LogIntake {
  constructor (private readonly init: LogIntakeInit) {}

  take (request: LogRequest, from: string): JobReplyMessage {
    // A deflated text is inflated first, within the bound: a zip bomb is refused, never inflated whole.
    let message: LogBatch
    try {
      message = plainLogBatch(request)
    } catch (err) {
      if (err instanceof InvalidMessageError) return { type: 'decline', code: 'bad-request', message: err.message }
      throw err
    }
    // A plain text is bounded by MAX_LOG_TEXT_BYTES; a deflated one was inflated within MAX_LOG_INFLATED_BYTES.
    const bytes = request.text === undefined ? 0 : Buffer.byteLength(request.text, 'utf8')
    if (bytes > MAX_LOG_TEXT_BYTES) return { type: 'decline', code: 'bad-request', message: `log text is ${bytes} bytes, more than the ${MAX_LOG_TEXT_BYTES} allowed` }
    if (!this.init.trust.hasRole(from, 'builder')) return { type: 'decline', code: 'not-builder', message: 'logs are taken only from peers trusted as builders' }
    const job = this.init.jobs.get(message.job)
    if (job === undefined) return { type: 'decline', code: 'unknown-job', message: `no job ${message.job} here` }
    if (job.round !== message.round) return { type: 'decline', code: 'unknown-job', message: `round ${message.round} is not the current round (${job.round}) of ${job.name}` }
    const runs = job.builder === from || job.extraBuilders.includes(from) || this.init.jobs.candidates(job.id, job.round).some(c => c.builder === from)
    if (!runs) return { type: 'decline', code: 'not-builder', message: `you do not run round ${job.round} of ${job.name}` }
    const { held, chunk } = this.init.store.take(from, message)
    if (chunk !== undefined) this.init.onChunk(job.id, chunk)
    return { type: 'ok', offset: held }
  }
}
