import type { Logger } from '@libp2p/interface'
import { RESULT_DELIVERY_TIMEOUT_MS } from '../jobs/constants.js'
import type { ResultAnnouncement } from '../jobs/messages.js'
import type { SendJobMessage } from '../jobs/wire.js'
import type { BuilderStore } from './builder-store.js'

export interface OutboxInit {
  store: BuilderStore
  send: SendJobMessage
  log: Logger
  /** True while the job is still being worked on here: its result is not final yet. */
  working: (author: string, id: string) => boolean
  /** Runs before each announcement (the job's live log goes out first). @default nothing */
  beforeAnnounce?: (author: string, result: ResultAnnouncement) => Promise<void>
}

/**
 * Store and forward of signed results: a result waits in the builder's database until its author
 * acknowledges it, and is announced again whenever asked (every ANNOUNCE_INTERVAL_MS, and when a
 * peer connects), so an author that was asleep still gets every result.
 */
export class Outbox {
  private announcing = false

  constructor (private readonly init: OutboxInit) {}

  /** Sends one result; true when the author acknowledged it. */
  async announce (author: string, result: ResultAnnouncement): Promise<boolean> {
    try {
      await this.init.beforeAnnounce?.(author, result)
      const reply = await this.init.send(author, result, { signal: AbortSignal.timeout(RESULT_DELIVERY_TIMEOUT_MS) })
      if (reply.type === 'ok' || (reply.type === 'decline' && reply.code === 'unknown-job')) {
        this.init.store.markAcked(author, result.job, result.round)
        return true
      }
      this.init.log('result for %s not taken yet (%s: %s)', result.job, reply.code, reply.message)
    } catch (err) {
      this.init.log('result for %s not delivered yet - %e', result.job, err)
    }
    return false
  }

  /** Announces every unacknowledged result once more; a call while one runs does nothing. */
  async announceAll (): Promise<void> {
    if (this.announcing) return
    this.announcing = true
    try {
      // Concurrently: an author that is away must not hold up the results of the others.
      await Promise.all(this.init.store.outbox().map(async job => {
        if (job.result === undefined || this.init.working(job.author, job.spec.id)) return
        await this.announce(job.author, job.result)
      }))
    } finally {
      this.announcing = false
    }
  }
}
