import { EventEmitter } from 'node:events'
import type { Logger } from '@libp2p/interface'
import type { Exchange } from '../exchange/index.js'
import type { TrustStore } from '../store/trust-store.js'
import type { GrantStore } from '../store/grant-store.js'
import { snapshotWorkingTree, type Snapshot } from '../git/snapshot.js'
import { locateRepository } from '../git/repository.js'
import { DEFAULT_FANOUT, DEFAULT_PRIORITY, SCHEDULE_INTERVAL_MS } from '../jobs/constants.js'
import { findCycle, stackStands } from '../jobs/dependencies.js'
import { Scheduler } from './scheduler.js'
import type { BuilderLoad } from './placement.js'
import type { PlacementProblem } from './placement-problem.js'
import { holders, Leases } from './leases.js'
import { ResultIntake } from './results.js'
import { InvalidPromptError, JobStateError } from '../jobs/errors.js'
import { ACTIVE_STATES, type Job, type JobState } from '../jobs/job.js'
import type { TaskOptions } from '../jobs/task-options.js'
import { JobStore } from '../jobs/job-store.js'
import type { HandbackRequest, JobReplyMessage, LeaseRequest, ResultAnnouncement, StatusUpdate } from '../jobs/messages.js'
import { loadJobSettings } from '../jobs/project-config.js'
import { nextRound, type SchedulingOptions } from '../jobs/rounds.js'
import { askNamer, deriveName, uniqueName } from '../jobs/naming.js'
import type { JobLink } from '../jobs/network.js'
import { Review } from './review.js'
import { LogIntake } from './log-intake.js'
import type { LogChunk, LogStore } from '../logs/log-store.js'
import type { LogRequest } from '../jobs/messages.js'

export interface AuthorInit {
  /** How job messages reach builders, and news of them coming and going. */
  network: JobLink
  /** Where results are fetched from. */
  exchange: Pick<Exchange, 'fetch' | 'openStore'>
  trust: TrustStore
  grants: GrantStore
  jobs: JobStore
  log: Logger
  /** A command that names jobs (prompt on stdin, name on stdout); the derived name is the fallback. */
  namer?: string
  /** Where builders' live output is kept (src/logs/); without it `log` messages are declined. */
  logs?: LogStore
}

/**
 * An offer as the public edges checked it (src/jobs/task-options.ts: the control API, `gitmesh
 * offer`, prompt files): the values are trusted here. Options left out take their defaults.
 */
export type OfferParams = { repo: string, prompt: string } & Partial<TaskOptions>

function sameTask (job: Job, params: OfferParams): boolean {
  const same = (a: readonly string[], b: readonly string[] | undefined): boolean => JSON.stringify([...a].sort()) === JSON.stringify([...(b ?? [])].sort())
  return job.prompt === params.prompt.trim() &&
    same(job.after, params.after) && same(job.owns, params.owns) && same(job.builders, params.builders) &&
    job.priority === (params.priority ?? DEFAULT_PRIORITY) && job.fanout === (params.fanout ?? DEFAULT_FANOUT) &&
    job.stack === (params.stack ?? false) && job.fanoutStop === (params.fanoutStop ?? 'none') &&
    (params.attempts === undefined || params.attempts === job.attemptsBudget)
}

/**
 * Merged, or being merged (a merge record in progress while the job is still `returned`): a new
 * round would drop the record that lets the working tree be restored.
 */
function underReview (job: Job): boolean {
  return job.state === 'merged' || job.merge?.inProgress === true
}

interface Waiting<T> { promise: Promise<T>, resolve: (value: T) => void, reject: (err: unknown) => void }

function waiting<T> (): Waiting<T> {
  let resolve!: (value: T) => void
  let reject!: (err: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  promise.catch(() => {})
  return { promise, resolve, reject }
}

/**
 * The builders still running a job's current round: its holders while it waits or runs; after
 * its result, the fan-out builders that run on to the end.
 */
function stillRunning (job: Job): string[] {
  if (['queued', 'lost', ...ACTIVE_STATES].includes(job.state)) return holders(job)
  return ['returned', 'merged', 'accepted'].includes(job.state) ? job.extraBuilders : []
}

/** States of a stacked job that a stale base sends back to the queue (its result not yet in review). */
const RESTACKABLE: readonly JobState[] = ['queued', 'lost', ...ACTIVE_STATES, 'returned', 'failed']

const STATE_ORDER: Record<string, number> = { offered: 0, fetching: 1, setup: 2, generating: 3, testing: 4 }

/** Orders a builder's progress: later attempts after earlier ones, and within one the states in turn. */
function progressRank (attempt: number, state: string): number {
  return attempt * 10 + (STATE_ORDER[state] ?? 0)
}

export { repoKey } from './repo-key.js'

/**
 * The author side of jobs: snapshot and queue a prompt, place queued jobs on trusted builders,
 * follow their status, and take in their signed results (fetching only B's new objects).
 * Emits 'job' with the updated Job on every change, and 'log' with each chunk of live output kept.
 */
export class Author extends EventEmitter<{ job: [Job], log: [job: string, chunk: LogChunk] }> {
  private ticker?: NodeJS.Timeout
  private started = false
  private readonly snapshots = new Map<string, { running?: Promise<Snapshot>, next?: Waiting<Snapshot> }>()
  private readonly scheduler: Scheduler
  private readonly leases: Leases
  private readonly results: ResultIntake
  private readonly logIntake?: LogIntake
  readonly review: Review

  constructor (private readonly init: AuthorInit) {
    super()
    this.review = new Review(init.jobs, init.log, job => this.changed(job))
    this.leases = new Leases(init.jobs, (job, builder, reason) => { this.lost(job, builder, reason) })
    this.results = new ResultIntake({ ...init, send: init.network.send, changed: job => this.changed(job) })
    this.logIntake = init.logs === undefined ? undefined : new LogIntake({ ...init, store: init.logs, onChunk: (job, chunk) => { this.emit('log', job, chunk) } })
    this.scheduler = new Scheduler({
      ...init,
      send: init.network.send,
      changed: job => this.changed(job),
      onPlaced: (job, builder) => { this.leases.grant(job, builder) },
      snapshot: async repo => (await this.snapshot(repo)).commit
    })
  }

  get jobs (): JobStore {
    return this.init.jobs
  }

  /** The live logs kept here, if any. */
  get logs (): LogStore | undefined {
    return this.init.logs
  }

  /** Starts following jobs and placing them; calling it again does nothing. */
  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    await this.review.recover()
    this.leases.start()
    this.ticker = setInterval(() => { this.schedule() }, SCHEDULE_INTERVAL_MS)
    this.ticker.unref()
    this.init.network.on('peer:connect', this.onConnect)
    this.init.network.on('peer:disconnect', this.onDisconnect)
    this.schedule()
  }

  /**
   * Stops placing and following jobs; safe to call twice, or without a start. A pass running now
   * goes on (its messages fail once the node stops): `scheduled()` waits for it.
   */
  stop (): void {
    if (!this.started) return
    this.started = false
    clearInterval(this.ticker)
    this.leases.stop()
    this.init.network.off('peer:connect', this.onConnect)
    this.init.network.off('peer:disconnect', this.onDisconnect)
  }

  private readonly onConnect = (peer: string): void => {
    this.scheduler.invalidate(peer)
    this.schedule()
  }

  private readonly onDisconnect = (peer: string): void => {
    this.leases.disconnected(peer)
  }

  private changed (job: Job): Job {
    this.emit('job', job)
    // Its dependents may be ready now: place them without waiting for the ticker.
    if (job.state === 'accepted') this.schedule()
    return job
  }

  /** Snapshots the working tree, creates the job (queued) and schedules it; returns at once. */
  async offer (params: OfferParams): Promise<Job> {
    const prompt = params.prompt.trim()
    const located = await locateRepository(params.repo)
    const repo = located.workTree!
    const settings = await loadJobSettings(repo, { test: params.test, attempts: params.attempts })
    const [snapshot, named] = await Promise.all([
      this.snapshot(repo),
      params.name !== undefined ? Promise.resolve(params.name) : this.nameFor(prompt)
    ])
    const name = params.name !== undefined ? params.name : uniqueName(named, n => this.init.jobs.nameTaken(n))
    if (params.name !== undefined && this.init.jobs.nameTaken(name)) throw new InvalidPromptError(`a job named ${name} already exists`)
    const scheduling = this.checkScheduling(name, params)
    const job = this.init.jobs.create({
      ...scheduling,
      name,
      repo,
      prompt,
      snapshot: snapshot.commit,
      test: settings.test,
      attemptsBudget: settings.attempts,
      generateTimeoutMs: settings.generateTimeoutMs,
      testTimeoutMs: settings.testTimeoutMs,
      setup: settings.setup,
      projectTimeouts: settings.projectTimeouts
    })
    this.changed(job)
    this.schedule()
    return job
  }

  /**
   * A task from a watched prompt file: offered as a new job the first time; afterwards each save
   * is a new round of the same job (its history kept), cancelling the round that was running.
   */
  async submitTask (params: OfferParams & { name: string }): Promise<{ job: Job, replaced?: JobState, unchanged?: boolean }> {
    const existing = this.init.jobs.findByName(params.name)
    if (existing === undefined) return { job: await this.offer(params) }
    // The same task as the job already has (a watcher restarted, or a save that changed nothing
    // the job uses): nothing to do.
    if (sameTask(existing, params)) return { job: existing, unchanged: true }
    const repo = (await locateRepository(params.repo)).workTree!
    if (existing.repo !== repo) throw new InvalidPromptError(`a job named ${params.name} belongs to ${existing.repo}`)
    if (underReview(existing)) throw new JobStateError(`${existing.name} is merged and under review: accept or reject it before saving a new version`)
    const prompt = params.prompt.trim()
    const settings = await loadJobSettings(repo, { test: params.test, attempts: params.attempts })
    const scheduling = this.checkScheduling(existing.name, params)
    await Promise.all(stillRunning(existing).map(async builder => {
      await this.init.network.send(builder, { type: 'cancel', job: existing.id, round: existing.round }).catch(() => {})
    }))
    const snapshot = await this.snapshot(repo)
    // The job as it is after the waits above: a result, a merge or another round may have come
    // meanwhile. A save still starts the next round, unless the job got merged.
    const current = this.init.jobs.get(existing.id)!
    if (underReview(current)) throw new JobStateError(`${current.name} is merged and under review: accept or reject it before saving a new version`)
    const job = this.changed(this.init.jobs.transition(current.id, 'queued', nextRound(current, { prompt, snapshot: snapshot.commit, settings, scheduling }), { from: current.state, atRound: current.round }))
    // An accepted result is on HEAD for good: what was stacked on it still stands.
    if (current.state !== 'accepted') await this.restack(job)
    this.schedule()
    return { job, replaced: current.state }
  }

  /**
   * A snapshot of the working tree taken after this call began. Offers that arrive while a
   * snapshot of the same repository is being taken share the next one (which starts when that
   * one ends, so it still sees everything saved before they arrived): 24 prompts offered at
   * once take two snapshots, not 24.
   */
  private async snapshot (repo: string): Promise<Snapshot> {
    const state = this.snapshots.get(repo) ?? {}
    this.snapshots.set(repo, state)
    if (state.running === undefined) {
      state.running = snapshotWorkingTree(repo).finally(() => { this.startNextSnapshot(repo) })
      return await state.running
    }
    state.next ??= waiting<Snapshot>()
    return await state.next.promise
  }

  private startNextSnapshot (repo: string): void {
    const state = this.snapshots.get(repo)!
    const waiting = state.next
    state.next = undefined
    if (waiting === undefined) {
      state.running = undefined
      return
    }
    state.running = snapshotWorkingTree(repo).finally(() => { this.startNextSnapshot(repo) })
    state.running.then(waiting.resolve, waiting.reject)
  }

  /**
   * The scheduling options of a job, with what depends on the other jobs checked: a dependency on
   * itself, or a cycle. The values themselves were checked at the edge (src/jobs/task-options.ts).
   */
  private checkScheduling (name: string, params: OfferParams): SchedulingOptions {
    const after = [...new Set(params.after ?? [])]
    if (after.includes(name)) throw new InvalidPromptError(`${name} cannot depend on itself`)
    // Only the jobs the dependencies reach are read: an offer costs the same however many jobs exist.
    const cycle = findCycle(name, after, dependency => this.init.jobs.findByName(dependency))
    if (cycle !== undefined) throw new InvalidPromptError(`the dependencies would form a cycle: ${cycle.join(' → ')}`)
    return {
      priority: params.priority ?? DEFAULT_PRIORITY,
      after,
      owns: params.owns ?? [],
      fanout: params.fanout ?? DEFAULT_FANOUT,
      builders: params.builders ?? [],
      stack: params.stack ?? false,
      fanoutStop: params.fanoutStop ?? 'none'
    }
  }

  private async nameFor (prompt: string): Promise<string> {
    if (this.init.namer !== undefined) {
      const named = await askNamer(this.init.namer, prompt)
      if (named !== undefined) return named
    }
    return deriveName(prompt)
  }

  /** Places waiting jobs on builders (see Scheduler). */
  schedule (): void {
    this.scheduler.schedule()
  }

  /** Waits for the scheduling passes running now (and asked for meanwhile) to end. */
  async scheduled (): Promise<void> {
    await this.scheduler.settled()
  }

  /** Why no builder can take this waiting job, if that is so (see placement-problem.ts). */
  placementProblem (jobId: string): PlacementProblem | undefined {
    return this.scheduler.problem(jobId)
  }

  /** The same, looked at now with what is known (a new offer, before the first pass). */
  explainPlacement (job: Job): PlacementProblem | undefined {
    return this.scheduler.explain(job)
  }

  /** What a builder last said about its slots, running and queued jobs, and tags. */
  builderLoad (peerId: string): BuilderLoad | undefined {
    return this.scheduler.load(peerId)
  }

  /** Every trusted builder with its last known load and the jobs of ours it holds. */
  async builderLoads (): Promise<Array<{ peerId: string, slots: number | null, running: number | null, queued: number | null, tags: string[], reachable: boolean | null, jobs: string[] }>> {
    const active = this.init.jobs.inStates(ACTIVE_STATES)
    const builders = this.init.trust.list().filter(peer => peer.roles.includes('builder'))
    await this.scheduler.refresh(builders.map(peer => peer.peerId))
    return builders.map(peer => {
      const load = this.scheduler.load(peer.peerId)
      return {
        peerId: peer.peerId,
        slots: load?.slots ?? null,
        running: load?.running ?? null,
        queued: load?.queued ?? null,
        tags: load?.tags ?? [],
        reachable: load?.reachable ?? null,
        jobs: active.filter(job => job.builder === peer.peerId).map(job => job.name)
      }
    })
  }

  handleStatus (message: StatusUpdate, from: string): JobReplyMessage {
    const job = this.init.jobs.get(message.job)
    if (job === undefined) return { type: 'decline', code: 'unknown-job', message: 'no such job here' }
    if (job.builder !== from || job.round !== message.round || !ACTIVE_STATES.includes(job.state)) return { type: 'ok' }
    const state = message.state === 'queued' ? 'offered' : message.state
    // Updates travel on separate streams and may arrive out of order: never step backwards.
    if (progressRank(message.attempt, state) < progressRank(job.attempt, job.state)) return { type: 'ok' }
    const progress = { attempt: message.attempt, progress: message.line }
    this.changed(state === job.state ? this.init.jobs.update(job.id, progress) : this.init.jobs.transition(job.id, state, progress, { from: job.state, atRound: job.round }))
    return { type: 'ok' }
  }

  /** A piece of a job's live output from its builder (see log-intake.ts). */
  handleLog (message: LogRequest, from: string): JobReplyMessage {
    return this.logIntake?.take(message, from) ?? { type: 'decline', code: 'bad-request', message: 'this node keeps no live logs' }
  }

  async handleResult (result: ResultAnnouncement, from: string): Promise<JobReplyMessage> {
    const reply = await this.results.take(result, from)
    // A builder that finished a job has room again.
    this.scheduler.invalidate(from)
    this.schedule()
    return reply
  }

  handleLease (message: LeaseRequest, from: string): JobReplyMessage {
    this.leases.renew(message, from)
    return { type: 'ok' }
  }

  /** A builder that is shutting down gives a job back: it is offered elsewhere at once. */
  handleHandback (message: HandbackRequest, from: string): JobReplyMessage {
    const job = this.init.jobs.get(message.job)
    if (job !== undefined && job.round === message.round && ACTIVE_STATES.includes(job.state) && holders(job).includes(from)) {
      const reason = `handed back by …${from.slice(-6)}: ${message.reason}`
      if (job.builder === from && job.extraBuilders.length === 0) {
        this.changed(this.init.jobs.transition(job.id, 'queued', { builder: undefined, attempt: 0, progress: undefined, reason }, { from: job.state, atRound: job.round }))
        this.scheduler.invalidate(from)
        this.schedule()
      } else {
        this.lost(job, from, reason)
      }
    }
    return { type: 'ok' }
  }

  /**
   * A builder lost a job. One of its fan-out builders carries on if there is one (the job is not
   * lost); otherwise the job is `lost` and offered elsewhere. A late result from that builder is
   * still kept as a candidate.
   */
  private lost (job: Job, builder: string, reason: string): void {
    const current = this.init.jobs.get(job.id)
    if (current === undefined || !ACTIVE_STATES.includes(current.state) || !holders(current).includes(builder)) return
    this.init.log('%s is lost on %s: %s', job.name, builder, reason)
    this.scheduler.invalidate(builder)
    if (current.builder !== builder) {
      this.changed(this.init.jobs.update(job.id, { extraBuilders: current.extraBuilders.filter(b => b !== builder) }))
    } else if (current.extraBuilders.length > 0) {
      const [next, ...rest] = current.extraBuilders
      this.changed(this.init.jobs.update(job.id, { builder: next, extraBuilders: rest, attempt: 0, progress: undefined }))
    } else {
      this.changed(this.init.jobs.transition(job.id, 'lost', { builder: undefined, attempt: 0, progress: undefined, reason }, { from: current.state, atRound: current.round }))
    }
    this.schedule()
  }

  /** Stops a job wherever it is; a builder holding it is told, and a late result is ignored. */
  async cancel (job: Job): Promise<Job> {
    if (!['queued', 'lost', ...ACTIVE_STATES].includes(job.state)) throw new JobStateError(`${job.name} is ${job.state}: only a queued, lost or running job can be cancelled`)
    const cancelled = this.changed(this.init.jobs.transition(job.id, 'cancelled', { reason: 'cancelled by the author', progress: undefined }, { from: job.state, atRound: job.round }))
    await Promise.all(holders(job).map(async builder => {
      await this.init.network.send(builder, { type: 'cancel', job: job.id, round: job.round })
        .catch(err => { this.init.log('could not tell %s to cancel %s - %e', builder, job.name, err) })
    }))
    return cancelled
  }

  /**
   * Rejects a result (restoring W0 if it was merged) and, with `extension`, offers the job again.
   * Fan-out builders still running the rejected round are stopped, and jobs stacked on the
   * rejected result run again.
   */
  async reject (job: Job, extension?: string): Promise<Job> {
    const rejected = extension === undefined || extension.trim() === ''
      ? await this.review.reject(job)
      : await this.review.reject(job, async restored => await this.reoffer(restored, extension))
    this.stopHolders(job)
    await this.restack(rejected)
    return rejected.state === 'rejected' && rejected.extraBuilders.length > 0 ? this.changed(this.init.jobs.update(rejected.id, { extraBuilders: [] })) : rejected
  }

  /** Tells every builder still running this round of `job` to stop (best effort). */
  private stopHolders (job: Job): void {
    for (const builder of stillRunning(job)) {
      void this.init.network.send(builder, { type: 'cancel', job: job.id, round: job.round }).catch(() => {})
    }
  }

  /**
   * Jobs stacked on a result of `dependency` that no longer stands (it was rejected, or the job
   * got a new round) start a new round: they wait for the dependency again and then run on its
   * next passing result, or are blocked if it is rejected for good. What they stack on in turn
   * follows. An accepted, merged, cancelled or rejected stacked job is left as it is.
   */
  private async restack (dependency: Job): Promise<void> {
    for (const stacked of this.init.jobs.stackedOn(dependency.name)) {
      if (!RESTACKABLE.includes(stacked.state) || stackStands(stacked.ranOn!, dependency)) continue
      this.stopHolders(stacked)
      const settings = await loadJobSettings(stacked.repo, { test: stacked.test, attempts: stacked.attemptsBudget })
      const current = this.init.jobs.get(stacked.id)!
      if (current.round !== stacked.round || !RESTACKABLE.includes(current.state)) continue
      const reason = `re-run: the result of ${dependency.name} it was stacked on was ${dependency.state === 'rejected' ? 'rejected' : 'replaced by a new round'}`
      const fields = { ...nextRound(current, { prompt: current.prompt, snapshot: current.snapshot, settings }), reason }
      try {
        const again = this.changed(this.init.jobs.transition(current.id, 'queued', fields, { from: current.state, atRound: current.round }))
        this.init.log('%s: %s', again.name, reason)
        await this.restack(again)
      } catch (err) {
        if (!(err instanceof JobStateError)) throw err
      }
    }
    this.schedule()
  }

  /**
   * Offers a job again, as a new round with its prompt extended and a fresh snapshot. Its test
   * command and attempt budget stay (the command line may have set them); the rest of
   * gitmesh.json, its timeouts, is read again, as for an offer.
   */
  async reoffer (job: Job, extension: string): Promise<Job> {
    const settings = await loadJobSettings(job.repo, { test: job.test, attempts: job.attemptsBudget })
    const snapshot = await this.snapshot(job.repo)
    const prompt = `${job.prompt}\n\n${extension.trim()}`
    const updated = this.changed(this.init.jobs.transition(job.id, 'queued', nextRound(job, { prompt, snapshot: snapshot.commit, settings }), { from: job.state, atRound: job.round }))
    this.schedule()
    return updated
  }
}
