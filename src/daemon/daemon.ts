import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { defaultLogger } from '@libp2p/logger'
import type { Logger } from '@libp2p/interface'
import type { Home } from '../home/home.js'
import type { GitmeshNode } from '../net/node.js'
import { createDaemonNode } from './node.js'
import { PING_INTERVAL_MS } from '../net/constants.js'
import { TrustStore } from '../store/trust-store.js'
import { GrantStore } from '../store/grant-store.js'
import type { Db } from '../store/database.js'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Author } from '../author/author.js'
import { Builder } from '../builder/builder.js'
import { BuilderStore } from '../builder/builder-store.js'
import { loadCommandEnvironment } from '../builder/command-env.js'
import { JobStore } from '../jobs/job-store.js'
import { JobsService } from './jobs-service.js'
import { JobsNetwork } from '../jobs/network.js'
import { jobMethods } from './job-methods.js'
import { housekeepingMethods } from './housekeeping-methods.js'
import { ControlServer } from './control-server.js'
import { controlMethods } from './methods.js'
import { keepBuildersConnected } from '../net/keep-alive.js'
import { Notifier, type Hook, type HookProblem } from '../notify/notifier.js'
import { jobView } from './views.js'
import { diagnose } from './doctor.js'
import { MAX_HOOKS } from '../notify/constants.js'
import { InvalidConfigError } from '../home/errors.js'
import { agentPreset, commandGenerator, presetGenerator } from '../agents/index.js'
import { logMethods } from './log-methods.js'
import { LogSpool } from '../logs/spool.js'
import { LogStore } from '../logs/log-store.js'

export interface DaemonOptions {
  /** Overrides the config's listen addresses. */
  listen?: string[]
  /** Peers to dial at start, in addition to the config's. */
  peers?: string[]
  /** Run jobs for peers trusted as authors. */
  builder?: {
    /** @default half the cores, at least 1 */
    slots?: number
    /** A generator command, judged by its exit code alone. @default the built-in fenced-block generator */
    generate?: string
    /** An agent preset's name (`claude`, `codex`, …), instead of `generate`. */
    agent?: string
    /** Labels authors can ask for with `builders:`. */
    tags?: string[]
    /** Variables of this process's environment passed to job commands, besides the config's `builder.passEnv`. */
    passEnv?: string[]
    /** The job commands' PATH folders; replaces the config's `builder.path`. @default the config's, else the daemon's PATH */
    path?: string[]
    /** Generator bounds for projects whose gitmesh.json sets none. */
    generateTimeoutMs?: number
    idleTimeoutMs?: number
  }
  /** Hooks run besides the config's (`daemon --on-event`). */
  hooks?: Hook[]
  /** Overrides the config's `notify` (`daemon --no-notify`). */
  notify?: boolean
  /** Told of every hook or desktop notification that failed. */
  onHookProblem?: (problem: HookProblem) => void
  /** Told what the user should know at start (an unset `--pass-env` name, say); never a secret's value. */
  onWarning?: (message: string) => void
}

/**
 * The built-in generator, run with this Node.js: the same as `gitmesh generate-blocks`, started
 * through its own small entry point (dist/generators/main.js) so each attempt starts fast.
 */
export function builtinGenerator (): string {
  const entry = fileURLToPath(new URL('../generators/main.js', import.meta.url))
  return `'${process.execPath.replaceAll("'", "'\\''")}' '${entry.replaceAll("'", "'\\''")}'`
}

/** The composition root: one node, its stores and its control socket, started and stopped together. */
export class Daemon {
  private pinger?: NodeJS.Timeout
  private readonly log: Logger

  private constructor (
    readonly home: Home,
    readonly node: GitmeshNode,
    private readonly db: Db,
    private readonly control: ControlServer,
    readonly trust: TrustStore,
    private readonly jobs: JobsService,
    readonly author: Author,
    private readonly notifier: Notifier
  ) {
    this.log = defaultLogger().forComponent('gitmesh:daemon')
  }

  static async start (home: Home, options: DaemonOptions = {}): Promise<Daemon> {
    home.checkSocketPath()
    // Before anything listens: a second daemon for this home says so instead of failing on a port.
    await new ControlServer(home.socketPath, {}, defaultLogger().forComponent('gitmesh:control')).claimSocket()
    const config = await home.loadConfig()
    if (config.hooks.length + (options.hooks?.length ?? 0) > MAX_HOOKS) {
      throw new InvalidConfigError(home.configFile, `${config.hooks.length} hooks here and ${options.hooks?.length ?? 0} --on-event: at most ${MAX_HOOKS} together`)
    }
    const privateKey = await home.loadIdentity()
    // Before anything starts: a secrets file others can read, or a bad name, stops the daemon.
    const environment = options.builder === undefined
      ? undefined
      : await loadCommandEnvironment(home.secretsFile, { config: config.builder, passEnv: options.builder.passEnv, path: options.builder.path })
    for (const warning of environment?.warnings ?? []) options.onWarning?.(warning)
    const db = await home.openDatabase()
    const trust = new TrustStore(db)
    const grants = new GrantStore(db)
    grants.pruneExpired()
    let node: GitmeshNode | undefined
    let control: ControlServer | undefined
    try {
      node = await createDaemonNode({ privateKey, trust, grants, listen: options.listen ?? config.listen })
      const logger = defaultLogger()
      const network = new JobsNetwork(node, logger.forComponent('gitmesh:jobs'))
      const traffic = logger.forComponent('gitmesh:jobs:traffic')
      network.on('message', m => { traffic('%s %s %s: %s in %d ms', m.direction === 'in' ? 'from' : 'to', m.peer, m.type, m.outcome, m.ms) })
      const exchange = node.services.exchange
      const author = new Author({ network, exchange, trust, grants, jobs: new JobStore(db), logs: new LogStore(db), log: logger.forComponent('gitmesh:author'), namer: config.namer })
      const builderJobs = new BuilderStore(db)
      const builder = options.builder === undefined
        ? undefined
        : new Builder({
          network,
          exchange,
          peerId: node.peerId.toString(),
          trust,
          grants,
          store: builderJobs,
          logSpool: new LogSpool(db),
          privateKey,
          workDir: path.join(home.dir, 'builder'),
          log: logger.forComponent('gitmesh:builder'),
          slots: options.builder.slots,
          tags: options.builder.tags,
          generator: options.builder.agent !== undefined
            ? presetGenerator(agentPreset(options.builder.agent))
            : commandGenerator(options.builder.generate ?? builtinGenerator()),
          environment,
          timeouts: { generateMs: options.builder.generateTimeoutMs, idleMs: options.builder.idleTimeoutMs }
        })
      const notifier = new Notifier({
        hooks: [...config.hooks, ...(options.hooks ?? [])],
        notify: options.notify ?? config.notify,
        view: job => jobView(author, job),
        log: logger.forComponent('gitmesh:hooks'),
        onProblem: options.onHookProblem
      })
      author.on('job', notifier.onJob)
      const jobs = new JobsService(network, author, builder, trust)
      await jobs.start()
      const methods = {
        ...controlMethods({ node, trust, grants, builder, author, log: logger.forComponent('gitmesh:peers') }),
        ...jobMethods(author),
        ...logMethods(author),
        ...housekeepingMethods(author, builderJobs, exchange),
        doctor: async () => await diagnose({ node: node!, trust, send: network.send, builder })
      }
      control = new ControlServer(home.socketPath, methods, logger.forComponent('gitmesh:control'))
      await control.start()
      const daemon = new Daemon(home, node, db, control, trust, jobs, author, notifier)
      await daemon.connectKnownPeers([...config.peers, ...(options.peers ?? [])])
      return daemon
    } catch (err) {
      await control?.stop()
      await node?.stop()
      db.close()
      throw err
    }
  }

  /** Teaches the peer store every trusted address, keeps builders connected, dials the explicit peers, and keeps RTTs fresh. */
  private async connectKnownPeers (peers: string[]): Promise<void> {
    for (const peer of this.trust.list()) {
      if (peer.addrs.length === 0) continue
      await this.node.peerStore.merge(peerIdFromString(peer.peerId), { multiaddrs: peer.addrs.map(a => multiaddr(a)) }).catch(() => {})
      await keepBuildersConnected(this.node, this.trust, peer.peerId, this.log)
    }
    this.node.addEventListener('peer:connect', evt => { void this.measureRtt(evt.detail.toString()) })
    for (const addr of peers) {
      // A peer that is down now is dialed again when something needs it; start-up does not wait.
      this.node.dial(multiaddr(addr)).catch(err => { this.log.error('could not dial %s - %e', addr, err) })
    }
    this.pinger = setInterval(() => {
      for (const connection of this.node.getConnections()) void this.measureRtt(connection.remotePeer.toString())
    }, PING_INTERVAL_MS)
    this.pinger.unref()
  }

  private async measureRtt (peerId: string): Promise<void> {
    if (!this.trust.isTrusted(peerId)) return
    try {
      const ms = await this.node.services.ping.ping(peerIdFromString(peerId), { signal: AbortSignal.timeout(5000) })
      this.trust.recordRtt(peerId, ms)
    } catch (err) {
      this.log('ping %s failed - %e', peerId, err)
    }
  }

  get addrs (): string[] {
    return this.node.getMultiaddrs().map(ma => ma.toString())
  }

  async stop (): Promise<void> {
    clearInterval(this.pinger)
    this.author.off('job', this.notifier.onJob)
    await this.notifier.stop()
    await this.jobs.stop()
    await this.control.stop()
    await this.node.stop()
    // A scheduling pass still running ends (its messages failed with the node) before the database closes.
    await this.author.scheduled()
    this.db.close()
  }
}
