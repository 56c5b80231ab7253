import { LEASE_MS, LEASE_RENEW_MS } from '../jobs/constants.js'
import { ACTIVE_STATES, type Job } from '../jobs/job.js'
import type { JobStore } from '../jobs/job-store.js'
import type { LeaseRequest } from '../jobs/messages.js'

/** Every builder holding a job's current round: its builder, then its fan-out. */
export function holders (job: Job): string[] {
  return job.builder === undefined ? [] : [job.builder, ...job.extraBuilders]
}

/**
 * Leases on jobs held by builders, one per job and builder. A builder renews the leases of the
 * jobs it holds every LEASE_RENEW_MS; a lease that runs out (LEASE_MS), or a builder that
 * disconnects, loses the job on that builder: `onLost` is told, and the job is offered elsewhere.
 * Leases live in memory: after the author restarts, every holder gets a fresh lease, so a builder
 * that is still there re-attaches with its next renewal.
 */
export class Leases {
  private readonly until = new Map<string, number>()
  private timer?: NodeJS.Timeout

  /** `clock` gives the time in ms since the epoch (tests inject one to step through expiry). */
  constructor (private readonly jobs: JobStore, private readonly onLost: (job: Job, builder: string, reason: string) => void, private readonly clock: () => number = Date.now) {}

  private key (id: string, builder: string): string {
    return `${id}/${builder}`
  }

  start (): void {
    const fresh = this.clock() + LEASE_MS
    for (const job of this.jobs.inStates(ACTIVE_STATES)) {
      for (const builder of holders(job)) this.until.set(this.key(job.id, builder), fresh)
    }
    this.timer = setInterval(() => { this.expire() }, LEASE_RENEW_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** A builder took the job: its lease starts now. */
  grant (job: Job, builder: string): void {
    this.until.set(this.key(job.id, builder), this.clock() + LEASE_MS)
  }

  /** Renews every listed job the sender holds in the listed round. */
  renew (message: LeaseRequest, from: string): void {
    const until = this.clock() + LEASE_MS
    for (const { job: id, round } of message.jobs) {
      const job = this.jobs.get(id)
      if (job !== undefined && job.round === round && ACTIVE_STATES.includes(job.state) && holders(job).includes(from)) this.until.set(this.key(id, from), until)
    }
  }

  /** The builder disconnected: every job it holds is lost there at once. */
  disconnected (peerId: string): void {
    for (const job of this.jobs.inStates(ACTIVE_STATES)) {
      if (holders(job).includes(peerId)) this.lose(job, peerId, `builder …${peerId.slice(-6)} disconnected`)
    }
  }

  /** Loses every job whose lease ran out (run every LEASE_RENEW_MS once started). */
  expire (): void {
    const now = this.clock()
    const held = new Set<string>()
    for (const job of this.jobs.inStates(ACTIVE_STATES)) {
      for (const builder of holders(job)) {
        const key = this.key(job.id, builder)
        held.add(key)
        if (!this.until.has(key)) this.until.set(key, now + LEASE_MS)
        if (now > this.until.get(key)!) this.lose(job, builder, `builder …${builder.slice(-6)} stopped renewing its lease`)
      }
    }
    // Leases of jobs that ended, or moved on from a builder, are forgotten.
    for (const key of this.until.keys()) if (!held.has(key)) this.until.delete(key)
  }

  private lose (job: Job, builder: string, reason: string): void {
    this.until.delete(this.key(job.id, builder))
    this.onLost(job, builder, reason)
  }
}
