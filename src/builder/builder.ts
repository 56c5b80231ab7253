import os from 'node:os'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { Logger, PrivateKey } from '@libp2p/interface'
import type { Generator } from '../agents/index.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Exchange } from '../exchange/index.js'
import type { TrustStore } from '../store/trust-store.js'
import type { GrantStore } from '../store/grant-store.js'
import { bytesToOid } from '../git/oid.js'
import { ANNOUNCE_INTERVAL_MS, BUILDER_QUEUE_LIMIT, HANDBACK_TIMEOUT_MS, LEASE_RENEW_MS, MAX_PROGRESS_CHARS, STATUS_DEFER_MS } from '../jobs/constants.js'
import type { CancelRequest, JobReplyMessage, OfferRequest } from '../jobs/messages.js'
import type { SendJobMessage } from '../jobs/wire.js'
import type { JobLink } from '../jobs/network.js'
import { BuilderStore, type BuilderJob, type BuilderJobState } from './builder-store.js'
import { cacheRepoPath, runJob, type RunnerContext } from './job-runner.js'
import { NEXT_JOB_FIRST_MS, WORKTREES_PER_SLOT } from './constants.js'
import { WorktreePool } from './worktree.js'
import { SetupCache } from './setup-cache.js'
import type { BuilderTimeouts } from './timeouts.js'
import { cleanCacheRepos } from './crash-cleanup.js'
import { startOrder } from './start-order.js'
import { Outbox } from './outbox.js'
import { Prefetcher } from './prefetcher.js'
import { renewLeases } from './lease-renewal.js'
import { reapOrphanedCommands } from './orphans.js'
import type { CommandEnvironment } from './command-env.js'
import { LogShipper } from '../logs/shipper.js'
import type { LogSpool } from '../logs/spool.js'

export interface BuilderInit {
  /** How job messages reach authors, and news of them connecting. */
  network: JobLink
  /** Where snapshots are fetched from and results served. */
  exchange: Exchange
  /** This node's peer id (results are signed as it). */
  peerId: string
  trust: TrustStore
  grants: GrantStore
  store: BuilderStore
  privateKey: PrivateKey
  workDir: string
  log: Logger
  /** Jobs run at once. @default half the cores, at least 1 */
  slots?: number
  /** The generator: its command, and how its outcome and usage are read. */
  generator: Generator
  /** Labels authors can ask for (`builders: [gpu]`). */
  tags?: string[]
  /**
   * What job commands get besides their `GITMESH_*` variables, and the masker of the values
   * passed (command-env.ts).
   * @default the scrubbed environment, nothing masked
   */
  environment?: CommandEnvironment
  /**
   * Generator bounds for projects whose gitmesh.json sets none (`daemon --generate-timeout`, `--idle-timeout`).
   * @default the author's generate timeout (60 min) and DEFAULT_IDLE_TIMEOUT_MS
   */
  timeouts?: BuilderTimeouts
  /** Where live output waits for its author (src/logs/); without it no live log is sent. */
  logSpool?: LogSpool
}

/** Default slots: half the cores, at least one. */
export function defaultSlots (): number {
  return Math.max(1, Math.floor(os.availableParallelism() / 2))
}

/**
 * The builder side of jobs: accepts offers from peers trusted as authors, runs up to `slots`
 * jobs at once (the rest wait in order), reports progress, and keeps re-announcing each signed
 * result until its author acknowledges it, across restarts.
 */
export class Builder {
  readonly slots: number
  /** Jobs holding a slot: generating or testing, or about to. */
  private readonly running = new Map<string, AbortController>()
  /** Every job this builder works on, until its result is stored (cancel reaches it here). */
  private readonly controllers = new Map<string, AbortController>()
  private announcer?: NodeJS.Timeout
  private leaser?: NodeJS.Timeout
  /** The author whose job started last: the next start goes to another author if one waits. */
  private lastAuthor?: string
  private started = false
  private stopped = false
  private stopping?: Promise<void>
  private readonly send: SendJobMessage
  private readonly worktrees: WorktreePool
  private readonly setupCache: SetupCache
  private readonly outbox: Outbox
  private readonly prefetcher: Prefetcher
  private readonly logs?: LogShipper
  /** Jobs given a slot whose generator has not started yet. */
  private readonly starting = new Set<string>()
  private readonly startWatchers = new Set<() => void>()

  constructor (private readonly init: BuilderInit) {
    this.slots = init.slots ?? defaultSlots()
    // While the slots' jobs run, as many worktrees wait ready for the next ones (and a job
    // committing its result overlaps with the next one's start).
    this.worktrees = new WorktreePool(path.join(init.workDir, 'worktrees'), WORKTREES_PER_SLOT * this.slots)
    this.setupCache = new SetupCache(path.join(init.workDir, 'setup-cache'))
    this.send = init.network.send
    this.logs = init.logSpool === undefined ? undefined : new LogShipper({ spool: init.logSpool, send: this.send, log: init.log })
    this.outbox = new Outbox({
      store: init.store,
      send: this.send,
      log: init.log,
      working: (author, id) => this.controllers.has(this.key(author, id)),
      // A result ends the author's view of the job's log: the log goes first.
      beforeAnnounce: async (author, result) => { await this.logs?.drained({ author, job: result.job, round: result.round }) }
    })
    this.prefetcher = new Prefetcher({
      workDir: init.workDir,
      fetch: async (author, snapshot, repo, options) => { await init.exchange.fetch(peerIdFromString(author), [snapshot], repo, options) },
      worktrees: this.worktrees,
      log: init.log,
      onFetched: () => { this.prepareAhead() }
    })
  }

  /** The generator jobs run (what `gitmesh doctor` checks). */
  get generator (): Generator {
    return this.init.generator
  }

  /** What job commands get besides their job's variables (what `gitmesh doctor` shows, by name only); undefined: the scrubbed base. */
  get environment (): CommandEnvironment | undefined {
    return this.init.environment
  }

  private key (author: string, id: string): string {
    return `${author}/${id}`
  }

  /** Starts taking and running jobs; calling it again does nothing. */
  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    // Commands a crashed run left behind are ended before their jobs run again.
    reapOrphanedCommands(this.init.store)
    // Worktrees left by a previous run (a crash) are not trusted: they are made anew.
    await rm(path.join(this.init.workDir, 'worktrees'), { recursive: true, force: true })
    // ...and the cache repositories forget them, and lose the half-written objects of the crash.
    await cleanCacheRepos(path.join(this.init.workDir, 'repos'))
    // A job that was running when the node stopped (or crashed) starts over; its worktree is made anew.
    for (const job of this.init.store.inStates(['fetching', 'setup', 'generating', 'testing'])) {
      this.init.store.setState(job.author, job.spec.id, 'queued', 0)
    }
    this.pump()
    this.announcer = setInterval(() => { void this.announceAll() }, ANNOUNCE_INTERVAL_MS)
    this.announcer.unref()
    this.leaser = setInterval(() => { void renewLeases(this.init.store, this.send, this.init.log) }, LEASE_RENEW_MS)
    this.leaser.unref()
    this.init.network.on('peer:connect', this.onConnect)
    this.logs?.resume()
    void this.announceAll()
  }

  /**
   * A graceful stop hands every job it holds back to its author (who offers it elsewhere at
   * once), so nothing waits for this builder to return. A crash cannot: then the author's lease
   * on the job runs out instead.
   */
  async stop (): Promise<void> {
    if (!this.started) return
    this.stopping ??= this.handBackAll()
    await this.stopping
  }

  private async handBackAll (): Promise<void> {
    this.stopped = true
    clearInterval(this.announcer)
    clearInterval(this.leaser)
    this.init.network.off('peer:connect', this.onConnect)
    this.logs?.stop()
    for (const controller of this.controllers.values()) controller.abort(new Error('the builder is stopping'))
    const held = this.init.store.inStates(['queued', 'fetching', 'setup', 'generating', 'testing'])
    await Promise.all(held.map(async job => {
      this.init.store.setState(job.author, job.spec.id, 'cancelled')
      await this.send(job.author, { type: 'handback', job: job.spec.id, round: job.spec.round, reason: 'the builder is shutting down' }, { signal: AbortSignal.timeout(HANDBACK_TIMEOUT_MS) })
        .catch(err => { this.init.log('could not hand %s back - %e', job.spec.id, err) })
    }))
    await this.worktrees.drain().catch(() => {})
  }

  handleLoad (from: string): JobReplyMessage {
    if (!this.init.trust.hasRole(from, 'author')) return { type: 'decline', code: 'not-author', message: 'this builder does not take jobs from you: it must trust you with --role author' }
    return { type: 'ok', ...this.load(), tags: this.init.tags ?? [] }
  }

  /** Gets the jobs waiting for a slot ready to start (prefetcher.ts), never while a job starts. */
  private prepareAhead (): void {
    // Getting the next ones ready must not slow the one starting now down.
    if (this.stopped || this.starting.size > 0) return
    this.prefetcher.prepare(this.startOrder(), this.slots)
  }

  private readonly onConnect = (peer: string): void => {
    this.logs?.resume(peer)
    void this.announceAll()
  }

  private async announceAll (): Promise<void> {
    if (!this.stopped) await this.outbox.announceAll()
  }

  load (): { slots: number, running: number, queued: number } {
    return { slots: this.slots, ...this.init.store.counts() }
  }

  handleOffer (message: OfferRequest, from: string): JobReplyMessage {
    if (!this.init.trust.hasRole(from, 'author')) {
      return { type: 'decline', code: 'not-author', message: 'this builder does not take jobs from you: it must trust you with --role author' }
    }
    const existing = this.init.store.get(from, message.job.id)
    if (existing !== undefined && existing.spec.round === message.job.round && existing.state !== 'cancelled') {
      // A repeated offer: the author lost track of it. Held or running: carry on. Done: its
      // result goes out again, even if an acknowledgement was recorded.
      if (existing.state === 'done' && existing.result !== undefined) {
        this.init.store.markUnacked(from, message.job.id)
        queueMicrotask(() => { void this.announceAll() })
      }
      return { type: 'ok', ...this.load(), tags: this.init.tags ?? [] }
    }
    const { queued } = this.init.store.counts()
    if (queued >= BUILDER_QUEUE_LIMIT) return { type: 'decline', code: 'full', message: `${queued} jobs are already waiting here` }
    this.controllers.get(this.key(from, message.job.id))?.abort(new Error('superseded by a new round'))
    this.init.store.put(from, { ...message.job, snapshot: bytesToOid(message.job.snapshot) })
    this.init.log('accepted job %s (%s) from %s', message.job.name, message.job.id, from)
    queueMicrotask(() => { this.pump() })
    return { type: 'ok', ...this.load(), tags: this.init.tags ?? [] }
  }

  handleCancel (message: CancelRequest, from: string): JobReplyMessage {
    const job = this.init.store.get(from, message.job)
    if (job === undefined || job.spec.round !== message.round) return { type: 'ok' }
    this.controllers.get(this.key(from, message.job))?.abort(new Error('cancelled by the author'))
    if (job.state !== 'done') this.init.store.setState(from, message.job, 'cancelled')
    this.init.log('cancelled job %s from %s', job.spec.name, from)
    return { type: 'ok' }
  }

  /** Starts queued jobs while slots are free, then gets the rest ready to start. */
  private pump (): void {
    if (this.stopped) return
    while (this.running.size < this.slots) {
      const job = this.nextJob()
      if (job === undefined) break
      const key = this.key(job.author, job.spec.id)
      this.lastAuthor = job.author
      const controller = new AbortController()
      this.running.set(key, controller)
      this.controllers.set(key, controller)
      this.starting.add(key)
      void this.execute(job, controller).finally(() => {
        this.startedOne(key)
        if (this.running.get(key) === controller) this.running.delete(key)
        if (this.controllers.get(key) === controller) this.controllers.delete(key)
        this.pump()
      })
    }
    this.prepareAhead()
  }

  /** A job left the starting set (its generator started, or it ended first); true when it was in it. */
  private startedOne (key: string): boolean {
    if (!this.starting.delete(key)) return false
    for (const check of this.startWatchers) check()
    return true
  }

  /** Resolves once none of `keys` is starting any more, or after `ms`. */
  private async whenStarted (keys: readonly string[], ms: number): Promise<void> {
    if (keys.every(key => !this.starting.has(key))) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        this.startWatchers.delete(check)
        resolve()
      }
      const check = (): void => { if (keys.every(key => !this.starting.has(key))) done() }
      const timer = setTimeout(done, ms)
      this.startWatchers.add(check)
    })
  }

  /** The next queued job (see `startOrder`). */
  private nextJob (): BuilderJob | undefined {
    return this.startOrder(1)[0]
  }

  /** Queued jobs not yet taken up, in the order they will start (see start-order.ts). */
  private startOrder (limit = Number.POSITIVE_INFINITY): BuilderJob[] {
    const waiting = this.init.store.inStates(['queued']).filter(job => !this.controllers.has(this.key(job.author, job.spec.id)))
    return startOrder(waiting, this.lastAuthor, limit)
  }

  /** Hides the passed values and secrets in text that leaves the builder. */
  private mask (text: string): string {
    return this.init.environment?.masker.mask(text) ?? text
  }

  /** The job runner's environment and masking hooks: set only when the builder has an environment of its own. */
  private masking (): Pick<RunnerContext, 'commandEnv' | 'mask' | 'maskStream'> {
    const environment = this.init.environment
    if (environment === undefined) return {}
    const { masker } = environment
    return {
      commandEnv: environment.variables,
      ...(masker.active ? { mask: text => masker.mask(text), maskStream: () => masker.stream() } : {})
    }
  }

  private async execute (job: BuilderJob, controller: AbortController): Promise<void> {
    const { author } = job
    const { id, round } = job.spec
    // The slot is free once the last test has run: committing B, storing and announcing the
    // result overlap with the next job's start. The next job goes first: its start keeps a slot
    // busy, while this result only waits a moment longer.
    const freeSlot = async (): Promise<void> => {
      const key = this.key(author, id)
      if (this.running.get(key) === controller) this.running.delete(key)
      const before = new Set(this.starting)
      this.pump()
      await this.whenStarted([...this.starting].filter(started => !before.has(started)), NEXT_JOB_FIRST_MS)
    }
    let deferred: NodeJS.Timeout | undefined
    const send = (state: BuilderJobState, attempt: number, line: string): void => {
      void this.send(author, { type: 'status', job: id, round, state: state as 'fetching', attempt, line: this.mask(line).slice(0, MAX_PROGRESS_CHARS) })
        .catch(err => { this.init.log('status for %s not delivered - %e', id, err) })
    }
    const onState = (state: BuilderJobState, attempt: number, line: string): void => {
      if (state !== 'fetching' && this.startedOne(this.key(author, id))) queueMicrotask(() => { this.prepareAhead() })
      if (controller.signal.aborted) return
      this.init.store.setState(author, id, state, attempt)
      clearTimeout(deferred)
      if (state === 'done' || state === 'cancelled') return
      // A warm fetch takes tens of milliseconds: its status is only worth a message (which the
      // author handles while it serves that very fetch) when the fetch turns out to be slow.
      if (state === 'fetching') deferred = setTimeout(() => { send(state, attempt, line) }, STATUS_DEFER_MS)
      else send(state, attempt, line)
    }
    const logKey = { author, job: id, round }
    try {
      const result = await runJob(job, {
        exchange: this.init.exchange,
        privateKey: this.init.privateKey,
        peerId: this.init.peerId,
        workDir: this.init.workDir,
        generator: this.init.generator,
        worktrees: this.worktrees,
        setupCache: this.setupCache,
        timeouts: this.init.timeouts,
        onSlotFree: freeSlot,
        onProcessGroup: pgid => { this.init.store.setProcessGroup(author, id, pgid) },
        onState,
        ...this.masking(),
        onOutput: this.logs?.writer(logKey),
        signal: controller.signal
      })
      // The last output is flushed and stored now (end's synchronous part); its delivery is awaited
      // by the outbox before the result is announced, never here: a result waiting on an absent
      // author's log would hold the slot and could be lost to a stop in the meantime.
      this.logs?.end(logKey).catch(failure => { this.init.log('live log of %s not ended - %e', id, failure) })
      if (controller.signal.aborted) return
      if (result.commit !== undefined) {
        // The author fetches B from us: grant it, from the cache repository it lives in, and S
        // too (the author's own snapshot), so the author can name S as a have and get only B's
        // new objects.
        const repo = cacheRepoPath(this.init.workDir, author, job.spec.repo)
        this.init.grants.add(author, job.spec.snapshot, repo)
        this.init.grants.add(author, bytesToOid(result.commit), repo)
      }
      this.init.store.saveResult(author, id, result)
      void freeSlot()
      await this.outbox.announce(author, result)
    } catch (err) {
      // A cancelled job's output so far still goes out; nothing waits for it.
      this.logs?.end(logKey).catch(failure => { this.init.log('live log of %s not ended - %e', id, failure) })
      if (!controller.signal.aborted) this.init.log.error('job %s failed - %e', id, err)
    }
  }
}
