import type { Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Exchange } from '../exchange/index.js'
import type { TrustStore } from '../store/trust-store.js'
import { bytesToOid } from '../git/oid.js'
import { changedPaths } from '../git/apply-change.js'
import { diffStat } from '../git/diff-stat.js'
import { JobStateError } from '../jobs/errors.js'
import { ACTIVE_STATES, type Job, type JobResult } from '../jobs/job.js'
import type { JobStore } from '../jobs/job-store.js'
import type { JobReplyMessage, ResultAnnouncement } from '../jobs/messages.js'
import { pathsOutside } from '../jobs/ownership.js'
import { verifyResult } from '../jobs/signing.js'
import type { SendJobMessage } from '../jobs/wire.js'
import { encodeCbor } from '../wire/codec.js'
import { holders } from './leases.js'

export interface ResultIntakeInit {
  jobs: JobStore
  trust: TrustStore
  /** Fetches a result's new objects and stores its refs. */
  exchange: Pick<Exchange, 'fetch' | 'openStore'>
  /** Tells builders to stop (fan-out that stops at the first pass). */
  send: SendJobMessage
  log: Logger
  /** Called with every job a result changes. */
  changed: (job: Job) => Job
}

/** States in which a job still waits for a result of its round. */
const AWAITING: readonly Job['state'][] = [...ACTIVE_STATES, 'lost', 'queued']

/** The job without `builder` among its holders (the next fan-out builder takes the lead). */
function withoutHolder (job: Job, builder: string): Partial<Pick<Job, 'builder' | 'extraBuilders'>> {
  if (job.builder !== builder) return { extraBuilders: job.extraBuilders.filter(b => b !== builder) }
  return { builder: job.extraBuilders[0], extraBuilders: job.extraBuilders.slice(1) }
}

/**
 * A fan-out builder still running after the job has its result (`fanoutStop: 'none'`) reported:
 * it is no longer listed as running.
 */
function reportedLate (ctx: ResultIntakeInit, job: Job, builder: string): Job {
  return job.extraBuilders.includes(builder) ? ctx.jobs.update(job.id, { extraBuilders: job.extraBuilders.filter(b => b !== builder) }) : job
}

/**
 * Takes in a signed result: verified; B's new objects fetched from the builder (haves: S) and a
 * ref set; kept as a candidate of the job's round, with the size of its change and the builder's
 * time. The job's own builder's result, or the first passing one from any builder that ran the
 * round (fan-out, or a builder that was lost and came back), becomes the job's result; any other
 * stays a candidate. The other fan-out builders run to the end (each result a candidate to
 * compare), unless the job says `fanoutStop: 'first-pass'`. Acknowledged only once stored, so a
 * builder keeps re-announcing until the result is safe here.
 */
export class ResultIntake {
  private readonly taking = new Map<string, Promise<JobReplyMessage>>()

  constructor (private readonly init: ResultIntakeInit) {}

  /** Takes one result; the results of one job are taken one at a time, each deciding on the job as the last left it. */
  async take (result: ResultAnnouncement, from: string): Promise<JobReplyMessage> {
    if (!this.init.trust.hasRole(from, 'builder')) return { type: 'decline', code: 'not-builder', message: 'results are taken only from peers trusted as builders' }
    const previous = this.taking.get(result.job) ?? Promise.resolve()
    const taking = previous.catch(() => {}).then(async () => await takeResult(this.init, result, from))
    this.taking.set(result.job, taking)
    try {
      return await taking
    } finally {
      if (this.taking.get(result.job) === taking) this.taking.delete(result.job)
    }
  }
}

async function takeResult (ctx: ResultIntakeInit, result: ResultAnnouncement, from: string): Promise<JobReplyMessage> {
  if (result.builder !== from || !await verifyResult(result)) {
    return { type: 'decline', code: 'bad-request', message: 'the result is not signed by the peer that sent it' }
  }
  const job = ctx.jobs.get(result.job)
  if (job === undefined || job.round !== result.round || job.state === 'cancelled') {
    // Unknown, superseded or cancelled: acknowledge so the builder stops, and keep nothing.
    ctx.log('ignoring a result for %s round %d from %s', result.job, result.round, from)
    return { type: 'ok' }
  }
  const receipt = Buffer.from(encodeCbor(result)).toString('base64')
  if (ctx.jobs.candidates(job.id, job.round).some(c => c.builder === from && c.receipt === receipt)) {
    // The same signed result again: a builder re-announcing because our reply was lost, or a
    // replay. It is stored already; fetching and storing it again would change nothing true.
    return { type: 'ok' }
  }
  const attempts = result.attempts.map(a => ({ ...a, round: job.round, ms: a.generateMs + a.testMs }))
  if (result.commit === undefined) {
    const holding = holders(job)
    if (holding.includes(from) && ACTIVE_STATES.includes(job.state)) {
      if (holding.length === 1) ctx.changed(ctx.jobs.recordFailure(job.id, job.round, result.error ?? 'the builder made no result', attempts))
      else ctx.changed(ctx.jobs.update(job.id, withoutHolder(job, from))) // fan-out: the others carry on
    } else if (job.extraBuilders.includes(from)) {
      ctx.changed(reportedLate(ctx, job, from))
    }
    return { type: 'ok' }
  }
  const commit = bytesToOid(result.commit)
  const exchange = ctx.exchange
  const received: JobResult = {
    commit,
    passed: result.passed,
    builder: from,
    summary: result.summary,
    committedAt: result.committedAt,
    receivedAt: 0,
    // The receipt is the signed message itself, re-encoded as received: anyone can verify it later.
    receipt
  }
  let outside: string[]
  let number: number
  try {
    await exchange.fetch(peerIdFromString(from), [commit], job.repo, { haves: [job.snapshot] })
    // Which paths the result touched matters only when the job owns some.
    outside = job.owns.length === 0 ? [] : pathsOutside((await changedPaths(job.repo, job.snapshot, commit)).map(change => change.path), job.owns)
    received.stats = { ...await diffStat(job.repo, job.snapshot, commit), ms: attempts.reduce((sum, a) => sum + a.ms, 0) }
    received.receivedAt = Date.now()
    number = ctx.jobs.addCandidate(job.id, job.round, received)
    await (await exchange.openStore(job.repo)).updateRef(`refs/gitmesh/candidates/${job.name}/${number}`, commit)
  } catch (err) {
    ctx.log.error('could not fetch the result of %s from %s - %e', job.name, from, err)
    return { type: 'decline', code: 'retry', message: 'the result could not be fetched yet' }
  }
  // The decision is made on the job as it is now, after the fetch (results of one job are taken
  // one at a time): the first passing result is proposed; a failing one only once every builder
  // holding the round has reported.
  const now = ctx.jobs.get(job.id)
  if (now === undefined || now.round !== result.round) return { type: 'ok' }
  const holding = holders(now)
  const holder = holding.includes(from) && ACTIVE_STATES.includes(now.state)
  const reported = new Set(ctx.jobs.candidates(now.id, now.round).map(c => c.builder))
  const becomes = AWAITING.includes(now.state) && (result.passed || (holder && holding.every(b => reported.has(b))))
  if (!becomes) {
    ctx.log('kept a result of %s from %s as candidate #%d', job.name, from, number)
    // A fan-out builder that has reported is done with the round.
    ctx.changed(holder ? ctx.jobs.update(now.id, withoutHolder(now, from)) : reportedLate(ctx, now, from))
    return { type: 'ok' }
  }
  await (await exchange.openStore(now.repo)).updateRef(`refs/gitmesh/results/${now.name}`, commit)
  const stopOthers = now.fanoutStop === 'first-pass'
  // Fan-out builders still running this round (or one that was lost and placed elsewhere).
  const others = holding.filter(b => b !== from && !reported.has(b))
  try {
    // The sender becomes the job's builder in the same write; the others stay listed while they
    // run on, so a new round or a rejection can stop them.
    ctx.changed(ctx.jobs.recordResult(now.id, now.round, received, attempts, { outsideOwns: outside.length > 0 ? outside : null, builder: from, extraBuilders: stopOthers ? [] : others }))
  } catch (err) {
    // The job moved on during the ref update (cancelled, or a new round): the result stays a candidate.
    if (!(err instanceof JobStateError)) throw err
    ctx.log('kept a result of %s from %s as candidate #%d: %s', job.name, from, number, err.message)
    return { type: 'ok' }
  }
  if (stopOthers) {
    for (const builder of others) {
      void ctx.send(builder, { type: 'cancel', job: now.id, round: now.round }).catch(() => {})
    }
  }
  ctx.log('result of %s: %s (%s)', job.name, commit, result.passed ? 'tests passed' : 'tests failed')
  return { type: 'ok' }
}
