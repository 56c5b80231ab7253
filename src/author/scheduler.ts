import type { Logger } from '@libp2p/interface'
import type { TrustStore } from '../store/trust-store.js'
import type { GrantStore } from '../store/grant-store.js'
import { oidToBytes } from '../git/oid.js'
import { BUILDER_QUEUE_SLACK, LOAD_REPLY_TIMEOUT_MS, LOAD_TTL_MS, UNREACHABLE_RETRY_MS } from '../jobs/constants.js'
import { dependencyStatus, stackedBase, type JobsByName } from '../jobs/dependencies.js'
import { ACTIVE_STATES, type Job, type RanOn } from '../jobs/job.js'
import type { JobStore } from '../jobs/job-store.js'
import type { JobReplyMessage } from '../jobs/messages.js'
import type { SendJobMessage } from '../jobs/wire.js'
import { placementProblem, type KnownBuilder, type PlacementProblem } from './placement-problem.js'
import { choosePlacements, eligibleBuilders, type BuilderLoad, type PlacementView } from './placement.js'
import { holders } from './leases.js'
import { repoKey } from './repo-key.js'

export interface SchedulerInit {
  /** How offers and load questions reach builders. */
  send: SendJobMessage
  trust: TrustStore
  grants: GrantStore
  jobs: JobStore
  log: Logger
  /** Called with every job the scheduler changes. */
  changed: (job: Job) => Job
  /** Called when a builder took a job (its lease starts). */
  onPlaced: (job: Job, builder: string) => void
  /** A fresh snapshot of the repository's working tree (its commit). */
  snapshot: (repo: string) => Promise<string>
}

/**
 * Places waiting jobs on builders: highest priority first, only when every `after:` dependency
 * is accepted (or, for a `stack: true` job, has returned a passing result), on the commit that
 * holds their change (a dependency that failed blocks its dependents for good), on a builder that
 * matches the job, with the most free slots (ties: lowest round-trip time), and never more on a
 * builder than its slots plus a small queue.
 */
export class Scheduler {
  private readonly loads = new Map<string, BuilderLoad>()
  /** Ready jobs no builder can take, and why (kept in memory: the next pass finds it again). */
  private readonly problems = new Map<string, PlacementProblem>()
  private running = false
  private again = false
  /** Resolved when the passes running (and asked for meanwhile) have ended. */
  private passes: Promise<void> = Promise.resolve()
  private endPasses?: () => void

  constructor (private readonly init: SchedulerInit) {}

  load (peerId: string): BuilderLoad | undefined {
    return this.loads.get(peerId)
  }

  /** Why no builder can take this waiting job, if that is so. */
  problem (jobId: string): PlacementProblem | undefined {
    return this.problems.get(jobId)
  }

  /**
   * Looks at once, with what is known now, whether any builder can take `job` (a new offer, before
   * the first pass asked the builders), and records the answer as the pass would.
   */
  explain (job: Job): PlacementProblem | undefined {
    this.note(job, placementProblem(job, this.knownBuilders(this.trustedBuilders())), false)
    return this.problems.get(job.id)
  }

  private trustedBuilders (): string[] {
    return this.init.trust.list().filter(peer => peer.roles.includes('builder')).map(peer => peer.peerId)
  }

  private knownBuilders (builders: readonly string[]): KnownBuilder[] {
    return builders.map(peerId => {
      const load = this.loads.get(peerId)
      // A builder that could not be asked has said nothing about its tags.
      return { peerId, reachable: load?.reachable, tags: load?.reachable === true ? load.tags : undefined }
    })
  }

  /** Records (or clears) why a job cannot be placed; a new or different reason is a change worth showing. */
  private note (job: Job, reason: string | undefined, announce = true): void {
    const known = this.problems.get(job.id)
    if (reason === undefined) {
      if (known === undefined) return
      this.problems.delete(job.id)
    } else {
      if (known?.reason === reason) return
      this.problems.set(job.id, { reason, since: known?.since ?? Date.now() })
    }
    if (announce) this.init.changed(job)
  }

  /** Runs one pass at a time, and another if asked meanwhile. */
  schedule (): void {
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    if (this.endPasses === undefined) this.passes = new Promise(resolve => { this.endPasses = resolve })
    void this.pass().catch(err => { this.init.log.error('scheduling failed - %e', err) }).finally(() => {
      this.running = false
      if (this.again) {
        this.again = false
        this.schedule()
        return
      }
      this.endPasses?.()
      this.endPasses = undefined
    })
  }

  /** Waits for the passes running now, and any asked for meanwhile, to end. */
  async settled (): Promise<void> {
    await this.passes
  }

  /** Forgets what a builder said, so it is asked again (it connected, or a job of it ended). */
  invalidate (peerId: string): void {
    this.loads.delete(peerId)
  }

  private async pass (): Promise<void> {
    // Only the jobs that can still move are read: finished history costs a pass nothing.
    const waiting = this.init.jobs.inStates(['queued', 'lost'])
      .sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt)
    const active = this.init.jobs.inStates(ACTIVE_STATES)
    // Fan-out: a running job short of its k builders takes more, as capacity allows.
    const reported = (job: Job): string[] => job.fanout > 1 ? this.init.jobs.candidates(job.id, job.round).map(c => c.builder) : []
    // A builder that already reported for the round counts towards the k: it is done, not gone.
    const share = (job: Job): number => new Set([...(job.builder !== undefined ? [job.builder] : []), ...job.extraBuilders, ...reported(job)]).size
    const spreading = active.filter(job => job.builder !== undefined && share(job) < job.fanout)
    const waitingIds = new Set(waiting.map(job => job.id))
    for (const id of this.problems.keys()) if (!waitingIds.has(id)) this.problems.delete(id)
    if (waiting.length === 0 && spreading.length === 0) return
    // Dependencies are looked up by name as needed (most jobs have none).
    const named = new Map<string, Job | undefined>()
    const byName: JobsByName = {
      get: name => {
        if (!named.has(name)) named.set(name, this.init.jobs.findByName(name))
        return named.get(name)
      }
    }
    let ready: Job[] = []
    const stackOn = new Map<string, Job>()
    for (const job of waiting) {
      const status = dependencyStatus(job, byName)
      if (status.dead) {
        this.init.changed(this.init.jobs.transition(job.id, 'failed', { reason: `blocked: ${status.blockedBy!.reason}`, blockedBy: status.blockedBy }, { from: job.state, atRound: job.round }))
      } else if (!status.ready) {
        this.note(job, undefined)
        if (JSON.stringify(job.blockedBy) !== JSON.stringify(status.blockedBy)) this.init.changed(this.init.jobs.update(job.id, { blockedBy: status.blockedBy }))
      } else {
        if (job.blockedBy !== undefined) this.init.changed(this.init.jobs.update(job.id, { blockedBy: null }))
        if (status.stackOn !== undefined) stackOn.set(job.id, status.stackOn)
        ready.push(job)
      }
    }
    // A job whose dependencies just became ready runs on a commit that holds their change.
    ready = (await Promise.all(ready.map(async job => job.ranOn !== undefined ? job : await this.base(job, stackOn.get(job.id)))))
      .filter(job => job !== undefined)
    if (ready.length === 0 && spreading.length === 0) return
    const builders = this.trustedBuilders()
    await this.refresh(builders)
    // Builders holding one of our jobs, and those chosen for one in this pass.
    const ours = new Set(active.flatMap(holders))
    const view: PlacementView = { builders, loads: this.loads, rtt: peer => rtt(this.init.trust, peer), ours }
    const exclude = (job: Job): Set<string> => new Set([...(job.builder !== undefined ? [job.builder] : []), ...job.extraBuilders, ...reported(job)])
    // Choose a builder for every ready job first, then send the offers at once: placing 12 jobs
    // costs one round trip, not 12. A job whose builder declines waits for the next pass.
    const { chosen } = choosePlacements(ready, view, exclude)
    const placed = new Set(chosen.map(({ job }) => job.id))
    for (const job of ready) this.note(job, placed.has(job.id) ? undefined : placementProblem(job, this.knownBuilders(builders)))
    for (const { builder } of chosen) {
      this.loads.get(builder)!.queued++
      ours.add(builder)
    }
    const declined = await Promise.all(chosen.map(async ({ job, builder }) => await this.place(job, builder) ? undefined : job))
    if (declined.some(job => job !== undefined)) this.again = true
    for (const job of [...ready.map(j => this.init.jobs.get(j.id)!), ...spreading]) {
      if (!ACTIVE_STATES.includes(job.state) || job.builder === undefined) continue
      let current = job
      for (const builder of eligibleBuilders(current, view, exclude(current))) {
        if (share(current) >= current.fanout) break
        if (await this.place(current, builder, true)) current = this.init.jobs.get(job.id)!
      }
    }
  }

  /**
   * Chooses the commit a ready job with dependencies runs on: the passing result of the dependency
   * it stacks on, or else a snapshot of the working tree taken now, which holds the dependencies'
   * accepted commits on HEAD. Undefined when it could not be set (the job moved on, or the
   * snapshot failed: the next pass tries again).
   */
  private async base (job: Job, stackOn: Job | undefined): Promise<Job | undefined> {
    let ranOn: RanOn
    try {
      ranOn = stackOn !== undefined ? stackedBase(stackOn) : { kind: 'after-accept', commit: await this.init.snapshot(job.repo) }
    } catch (err) {
      this.init.log.error('could not snapshot %s for %s - %e', job.repo, job.name, err)
      return undefined
    }
    const based = this.init.jobs.setBase(job.id, job.round, ranOn)
    if (based !== undefined) this.init.changed(based)
    return based
  }

  /** Asks every builder whose load is stale (in parallel) how loaded it is. */
  async refresh (builders: string[]): Promise<void> {
    const now = Date.now()
    await Promise.all(builders.map(async builder => {
      const known = this.loads.get(builder)
      if (known !== undefined && now - known.at < (known.reachable ? LOAD_TTL_MS : UNREACHABLE_RETRY_MS)) return
      try {
        const reply = await this.init.send(builder, { type: 'load' }, { signal: AbortSignal.timeout(LOAD_REPLY_TIMEOUT_MS) })
        this.remember(builder, reply)
      } catch (err) {
        this.init.log('builder %s did not answer - %e', builder, err)
        this.loads.set(builder, { slots: 0, running: 0, queued: 0, tags: [], at: Date.now(), reachable: false })
      }
    }))
  }

  private remember (builder: string, reply: JobReplyMessage): void {
    if (reply.type !== 'ok' || reply.slots === undefined) {
      this.loads.set(builder, { slots: 0, running: 0, queued: 0, tags: [], at: Date.now(), reachable: false })
      return
    }
    this.loads.set(builder, { slots: reply.slots, running: reply.running ?? 0, queued: reply.queued ?? 0, tags: reply.tags ?? [], at: Date.now(), reachable: true })
  }

  /**
   * Offers one job to one builder; true when it took it. `extra`: the job already runs on another
   * builder, and this one is one more of its fan-out.
   */
  private async place (passJob: Job, builder: string, extra = false): Promise<boolean> {
    // The pass read the job before it waited for the builders' loads: a cancel or a new round
    // since then must win, so the job is read again, and placed only if it still may be.
    const job = this.init.jobs.get(passJob.id)
    if (job === undefined || job.round !== passJob.round) return false
    if (extra ? !ACTIVE_STATES.includes(job.state) : job.state !== 'queued' && job.state !== 'lost') return false
    // Recorded before the offer goes out: a result may arrive before the reply does, and a crash
    // in between must not leave a job the builder runs but the author does not expect.
    if (extra) this.init.jobs.update(job.id, { extraBuilders: [...job.extraBuilders, builder] })
    else this.init.jobs.transition(job.id, 'offered', { builder, progress: undefined }, { from: job.state, atRound: job.round })
    // The grant comes first too: the builder fetches S as soon as it has the offer. One that
    // exists already (another job on the same snapshot, or the user's own) is left as it is.
    const granted = this.init.grants.has(builder, job.snapshot, job.repo)
    if (!granted) this.init.grants.add(builder, job.snapshot, job.repo)
    let reply: JobReplyMessage | undefined
    try {
      reply = await this.init.send(builder, {
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
          testTimeoutMs: job.testTimeoutMs,
          priority: job.priority,
          // Absent rather than empty: a builder from before setup and project timeouts takes the offer.
          ...(job.setup === undefined ? {} : { setup: job.setup }),
          ...(job.projectTimeouts === undefined ? {} : { timeouts: job.projectTimeouts })
        }
      })
    } catch (err) {
      this.init.log('could not offer %s to %s - %e', job.name, builder, err)
      this.loads.set(builder, { slots: 0, running: 0, queued: 0, tags: [], at: Date.now(), reachable: false })
    }
    if (reply?.type === 'ok') {
      this.remember(builder, reply)
      const placed = this.init.changed(this.init.jobs.get(job.id)!)
      this.init.onPlaced(placed, builder)
      return true
    }
    if (reply?.type === 'decline') {
      this.init.log('builder %s declined %s: %s', builder, job.name, reply.message)
      // A full builder gets nothing more until it is asked again (LOAD_TTL_MS later): offering
      // the next pass's job at once would only be declined again, at network speed.
      const known = this.loads.get(builder) ?? { slots: 0, running: 0, queued: 0, tags: [] }
      this.loads.set(builder, reply.code === 'full'
        ? { ...known, queued: known.slots + BUILDER_QUEUE_SLACK, at: Date.now(), reachable: true, full: true }
        : { ...known, at: Date.now(), reachable: false })
    }
    const current = this.init.jobs.get(job.id)
    if (extra && current !== undefined) this.init.jobs.update(job.id, { extraBuilders: current.extraBuilders.filter(b => b !== builder) })
    // Only this offer is undone: a new round meanwhile (placed on the same builder, even) stays.
    if (!extra && current?.state === 'offered' && current.round === job.round && current.builder === builder) this.init.jobs.transition(job.id, job.state, { builder: undefined }, { from: 'offered', atRound: job.round })
    // The grant goes only if this offer made it and no other job there uses it meanwhile.
    const shared = this.init.jobs.inStates(ACTIVE_STATES).some(other => other.id !== job.id && other.snapshot === job.snapshot && other.repo === job.repo && (other.builder === builder || other.extraBuilders.includes(builder)))
    if (!granted && !shared) this.init.grants.revoke(builder, job.snapshot, job.repo)
    return false
  }
}

function rtt (trust: TrustStore, peerId: string): number {
  return trust.get(peerId)?.lastRttMs ?? Number.MAX_SAFE_INTEGER
}
