import { LEASE_MS, LEASE_RENEW_MS } from '../jobs/constants.js'
import { ACTIVE_STATES, type Job } from '../jobs/job.js'
import type { JobStore } from '../jobs/job-store.js'
import type { LeaseRequest } from '../jobs/messages.js'

/**
 * Leases on jobs held by builders. A builder renews the leases of the jobs it holds every
 * LEASE_RENEW_MS; a job whose lease runs out (LEASE_MS), or whose builder disconnects, is lost:
 * `onLost` is told, and the job is offered elsewhere. Leases live in memory: after the author
 * restarts, every job on a builder gets a fresh lease, so a builder that is still there
 * re-attaches with its next renewal.
 */
export class Leases {
  private readonly until = new Map<string, number>()
  private timer?: NodeJS.Timeout

  constructor (private readonly jobs: JobStore, private readonly onLost: (job: Job, reason: string) => void) {}

  start (): void {
    const fresh = Date.now() + LEASE_MS
    for (const job of this.jobs.inStates(ACTIVE_STATES)) this.until.set(job.id, fresh)
    this.timer = setInterval(() => { this.expire() }, LEASE_RENEW_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** A builder took the job: its lease starts now. */
  grant (job: Job): void {
    this.until.set(job.id, Date.now() + LEASE_MS)
  }

  /** Renews every listed job the sender holds in the listed round. */
  renew (message: LeaseRequest, from: string): void {
    const until = Date.now() + LEASE_MS
    for (const { job: id, round } of message.jobs) {
      const job = this.jobs.get(id)
      if (job?.builder === from && job.round === round && ACTIVE_STATES.includes(job.state)) this.until.set(id, until)
    }
  }

  /** The builder disconnected: every job it holds is lost at once. */
  disconnected (peerId: string): void {
    for (const job of this.jobs.inStates(ACTIVE_STATES)) {
      if (job.builder === peerId) this.lose(job, `builder …${peerId.slice(-6)} disconnected`)
    }
  }

  private expire (): void {
    const now = Date.now()
    for (const job of this.jobs.inStates(ACTIVE_STATES)) {
      const until = this.until.get(job.id) ?? now + LEASE_MS
      if (!this.until.has(job.id)) this.until.set(job.id, until)
      if (now > until) this.lose(job, `builder …${job.builder?.slice(-6) ?? '?'} stopped renewing its lease`)
    }
  }

  private lose (job: Job, reason: string): void {
    this.until.delete(job.id)
    this.onLost(job, reason)
  }
}
