import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { GitmeshNode } from '../net/node.js'
import type { TrustStore } from '../store/trust-store.js'
import type { GrantStore } from '../store/grant-store.js'
import { snapshotWorkingTree } from '../git/snapshot.js'
import { locateRepository } from '../git/repository.js'
import { bytesToOid, oidToBytes } from '../git/oid.js'
import { MAX_NAME_CHARS, MAX_PROMPT_CHARS, SCHEDULE_INTERVAL_MS } from '../jobs/constants.js'
import { InvalidPromptError, JobStateError } from '../jobs/errors.js'
import { ACTIVE_STATES, type Job } from '../jobs/job.js'
import { JobStore } from '../jobs/job-store.js'
import type { JobReplyMessage, ResultAnnouncement, StatusUpdate } from '../jobs/messages.js'
import { loadJobSettings } from '../jobs/project-config.js'
import { askNamer, deriveName, isValidName, uniqueName } from '../jobs/naming.js'
import { verifyResult } from '../jobs/signing.js'
import { sendJobMessage } from '../jobs/wire.js'
import { encodeCbor } from '../wire/codec.js'
import { Review } from './review.js'

export interface AuthorInit {
  node: GitmeshNode
  trust: TrustStore
  grants: GrantStore
  jobs: JobStore
  log: Logger
  /** A command that names jobs (prompt on stdin, name on stdout); the derived name is the fallback. */
  namer?: string
}

export interface OfferParams {
  repo: string
  prompt: string
  name?: string
  attempts?: number
  test?: string
}

const STATE_ORDER: Record<string, number> = { offered: 0, fetching: 1, generating: 2, testing: 3 }

/** Orders a builder's progress: later attempts after earlier ones, and within one the states in turn. */
function progressRank (attempt: number, state: string): number {
  return attempt * 10 + (STATE_ORDER[state] ?? 0)
}

/** A stable key for a repository path, so builders keep one cache per author repository. */
export function repoKey (repo: string): string {
  return createHash('sha256').update(repo).digest('hex').slice(0, 16)
}

/**
 * The author side of jobs: snapshot and queue a prompt, place queued jobs on trusted builders,
 * follow their status, and take in their signed results (fetching only B's new objects).
 * Emits 'job' with the updated Job on every change.
 */
export class Author extends EventEmitter<{ job: [Job] }> {
  private scheduler?: NodeJS.Timeout
  private scheduling = false
  private rescheduled = false
  readonly review: Review

  constructor (private readonly init: AuthorInit) {
    super()
    this.review = new Review(init.jobs, init.log, job => this.changed(job))
  }

  get jobs (): JobStore {
    return this.init.jobs
  }

  async start (): Promise<void> {
    await this.review.recover()
    this.scheduler = setInterval(() => { this.schedule() }, SCHEDULE_INTERVAL_MS)
    this.scheduler.unref()
    this.init.node.addEventListener('peer:connect', this.onConnect)
    this.schedule()
  }

  stop (): void {
    clearInterval(this.scheduler)
    this.init.node.removeEventListener('peer:connect', this.onConnect)
  }

  private readonly onConnect = (): void => { this.schedule() }

  private changed (job: Job): Job {
    this.emit('job', job)
    return job
  }

  /** Snapshots the working tree, creates the job (queued) and schedules it; returns at once. */
  async offer (params: OfferParams): Promise<Job> {
    const prompt = params.prompt.trim()
    if (prompt.length === 0) throw new InvalidPromptError('the prompt is empty')
    if (prompt.length > MAX_PROMPT_CHARS) throw new InvalidPromptError(`the prompt is longer than ${MAX_PROMPT_CHARS} characters`)
    if (params.name !== undefined && !isValidName(params.name)) throw new InvalidPromptError(`--name ${JSON.stringify(params.name)} must be kebab-case (a-z, 0-9, single dashes), at most ${MAX_NAME_CHARS} characters`)
    const located = await locateRepository(params.repo)
    const repo = located.workTree!
    const settings = await loadJobSettings(repo, { test: params.test, attempts: params.attempts })
    const [snapshot, named] = await Promise.all([
      snapshotWorkingTree(repo),
      params.name !== undefined ? Promise.resolve(params.name) : this.nameFor(prompt)
    ])
    const name = params.name !== undefined ? params.name : uniqueName(named, n => this.init.jobs.nameTaken(n))
    if (params.name !== undefined && this.init.jobs.nameTaken(name)) throw new InvalidPromptError(`a job named ${name} already exists`)
    const job = this.init.jobs.create({
      name,
      repo,
      prompt,
      snapshot: snapshot.commit,
      test: settings.test,
      attemptsBudget: settings.attempts,
      generateTimeoutMs: settings.generateTimeoutMs,
      testTimeoutMs: settings.testTimeoutMs
    })
    this.changed(job)
    this.schedule()
    return job
  }

  private async nameFor (prompt: string): Promise<string> {
    if (this.init.namer !== undefined) {
      const named = await askNamer(this.init.namer, prompt)
      if (named !== undefined) return named
    }
    return deriveName(prompt)
  }

  /** Places queued jobs on builders; runs one pass at a time, and again if asked meanwhile. */
  schedule (): void {
    if (this.scheduling) {
      this.rescheduled = true
      return
    }
    this.scheduling = true
    void this.schedulePass().catch(err => { this.init.log.error('scheduling failed - %e', err) }).finally(() => {
      this.scheduling = false
      if (this.rescheduled) {
        this.rescheduled = false
        this.schedule()
      }
    })
  }

  private async schedulePass (): Promise<void> {
    const queued = this.init.jobs.inStates(['queued'])
    if (queued.length === 0) return
    const builders = this.init.trust.list().filter(peer => peer.roles.includes('builder')).map(peer => peer.peerId)
    if (builders.length === 0) return
    const full = new Set<string>()
    for (const job of queued) {
      const load = new Map(builders.map(b => [b, 0]))
      for (const active of this.init.jobs.inStates(ACTIVE_STATES)) {
        if (active.builder !== undefined && load.has(active.builder)) load.set(active.builder, load.get(active.builder)! + 1)
      }
      const connected = new Set(this.init.node.getConnections().map(c => c.remotePeer.toString()))
      const order = builders.filter(b => !full.has(b)).sort((a, b) =>
        (load.get(a)! - load.get(b)!) || (Number(connected.has(b)) - Number(connected.has(a))))
      let placed = false
      for (const builder of order) {
        // Recorded before the offer goes out: a result may arrive before the reply does, and a
        // crash in between must not leave a job the builder runs but the author does not expect.
        this.init.jobs.update(job.id, { state: 'offered', builder, progress: undefined })
        const reply = await this.sendOffer(job, builder)
        if (reply?.type === 'ok') {
          this.changed(this.init.jobs.get(job.id)!)
          placed = true
          break
        }
        const current = this.init.jobs.get(job.id)
        if (current?.state === 'offered' && current.builder === builder) this.init.jobs.update(job.id, { state: 'queued', builder: undefined })
        this.init.grants.revoke(builder, job.snapshot, job.repo)
        if (reply !== undefined) full.add(builder)
      }
      if (!placed && full.size >= builders.length) return
    }
  }

  private async sendOffer (job: Job, builder: string): Promise<JobReplyMessage | undefined> {
    // The grant comes first: the builder fetches S as soon as it has the offer.
    this.init.grants.add(builder, job.snapshot, job.repo)
    try {
      const reply = await sendJobMessage(this.init.node, peerIdFromString(builder), {
        type: 'offer',
        job: {
          id: job.id,
          name: job.name,
          round: job.round,
          prompt: job.prompt,
          snapshot: oidToBytes(job.snapshot),
          repo: repoKey(job.repo),
          test: job.test,
          attempts: job.attemptsBudget,
          generateTimeoutMs: job.generateTimeoutMs,
          testTimeoutMs: job.testTimeoutMs
        }
      })
      if (reply.type === 'decline') this.init.log('builder %s declined %s: %s', builder, job.name, reply.message)
      return reply
    } catch (err) {
      this.init.log('could not offer %s to %s - %e', job.name, builder, err)
      return undefined
    }
  }

  handleStatus (message: StatusUpdate, from: string): JobReplyMessage {
    const job = this.init.jobs.get(message.job)
    if (job === undefined) return { type: 'decline', code: 'unknown-job', message: 'no such job here' }
    if (job.builder !== from || job.round !== message.round || !ACTIVE_STATES.includes(job.state)) return { type: 'ok' }
    const state = message.state === 'queued' ? 'offered' : message.state
    // Updates travel on separate streams and may arrive out of order: never step backwards.
    if (progressRank(message.attempt, state) < progressRank(job.attempt, job.state)) return { type: 'ok' }
    this.changed(this.init.jobs.update(job.id, { state, attempt: message.attempt, progress: message.line }))
    return { type: 'ok' }
  }

  /**
   * Takes in a signed result: verified, B's new objects fetched from the builder (haves: S),
   * refs/gitmesh/results/<name> set, receipt recorded. Acknowledged only once all that is stored,
   * so a builder keeps re-announcing until the result is safe here.
   */
  async handleResult (result: ResultAnnouncement, from: string): Promise<JobReplyMessage> {
    if (result.builder !== from || !await verifyResult(result)) {
      return { type: 'decline', code: 'bad-request', message: 'the result is not signed by the peer that sent it' }
    }
    const job = this.init.jobs.get(result.job)
    if (job === undefined || job.round !== result.round || job.builder !== from || !ACTIVE_STATES.includes(job.state)) {
      // Late, superseded or cancelled: acknowledge so the builder stops, and keep nothing.
      this.init.log('ignoring a result for %s round %d from %s', result.job, result.round, from)
      return { type: 'ok' }
    }
    const attempts = result.attempts.map(a => ({ ...a, round: job.round, ms: a.generateMs + a.testMs }))
    if (result.commit === undefined) {
      this.changed(this.init.jobs.recordFailure(job.id, job.round, result.error ?? 'the builder made no result', attempts))
      return { type: 'ok' }
    }
    const commit = bytesToOid(result.commit)
    try {
      await this.init.node.services.exchange.fetch(peerIdFromString(from), [commit], job.repo, { haves: [job.snapshot] })
      await this.init.node.services.exchange.openStore(job.repo).then(async store => { await store.updateRef(`refs/gitmesh/results/${job.name}`, commit) })
    } catch (err) {
      this.init.log.error('could not fetch the result of %s from %s - %e', job.name, from, err)
      return { type: 'decline', code: 'retry', message: 'the result could not be fetched yet' }
    }
    // The receipt is the signed message itself, re-encoded as received: anyone can verify it later.
    const receipt = Buffer.from(encodeCbor(result)).toString('base64')
    const updated = this.init.jobs.recordResult(job.id, job.round, {
      commit,
      passed: result.passed,
      builder: from,
      summary: result.summary,
      committedAt: result.committedAt,
      receivedAt: Date.now(),
      receipt
    }, attempts)
    this.changed(updated)
    this.init.log('result of %s: %s (%s)', job.name, commit, result.passed ? 'tests passed' : 'tests failed')
    return { type: 'ok' }
  }

  /** Stops a job wherever it is; a builder holding it is told, and a late result is ignored. */
  async cancel (job: Job): Promise<Job> {
    if (!['queued', ...ACTIVE_STATES].includes(job.state)) throw new JobStateError(`${job.name} is ${job.state}: only a queued or running job can be cancelled`)
    const cancelled = this.changed(this.init.jobs.update(job.id, { state: 'cancelled', reason: 'cancelled by the author', progress: undefined }))
    if (job.builder !== undefined && job.state !== 'queued') {
      await sendJobMessage(this.init.node, peerIdFromString(job.builder), { type: 'cancel', job: job.id, round: job.round })
        .catch(err => { this.init.log('could not tell %s to cancel %s - %e', job.builder, job.name, err) })
    }
    return cancelled
  }

  /** Rejects a result (restoring W0 if it was merged) and, with `extension`, offers the job again. */
  async reject (job: Job, extension?: string): Promise<Job> {
    const rejected = await this.review.reject(job)
    if (extension === undefined || extension.trim() === '') return rejected
    return await this.reoffer(rejected, extension)
  }

  /** Offers a job again, as a new round with its prompt extended and a fresh snapshot. */
  async reoffer (job: Job, extension: string): Promise<Job> {
    const snapshot = await snapshotWorkingTree(job.repo)
    const prompt = `${job.prompt}\n\n${extension.trim()}`
    const updated = this.changed(this.init.jobs.update(job.id, {
      state: 'queued', round: job.round + 1, prompt, snapshot: snapshot.commit, builder: undefined, attempt: 0, progress: undefined, result: null, merge: null, reason: undefined
    }))
    this.schedule()
    return updated
  }
}
