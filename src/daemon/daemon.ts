import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { defaultLogger } from '@libp2p/logger'
import type { Logger } from '@libp2p/interface'
import type { Home } from '../home/home.js'
import { createGitmeshNode, type GitmeshNode } from '../net/node.js'
import { PING_INTERVAL_MS } from '../net/constants.js'
import { TrustStore } from '../store/trust-store.js'
import { GrantStore } from '../store/grant-store.js'
import type { Db } from '../store/database.js'
import { ControlServer } from './control-server.js'
import { controlMethods } from './methods.js'

export interface DaemonOptions {
  /** Overrides the config's listen addresses. */
  listen?: string[]
  /** Peers to dial at start, in addition to the config's. */
  peers?: string[]
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
    readonly trust: TrustStore
  ) {
    this.log = defaultLogger().forComponent('gitmesh:daemon')
  }

  static async start (home: Home, options: DaemonOptions = {}): Promise<Daemon> {
    home.checkSocketPath()
    const config = await home.loadConfig()
    const privateKey = await home.loadIdentity()
    const db = await home.openDatabase()
    const trust = new TrustStore(db)
    const grants = new GrantStore(db)
    grants.pruneExpired()
    let node: GitmeshNode | undefined
    try {
      node = await createGitmeshNode({ privateKey, trust, grants, listen: options.listen ?? config.listen })
      const control = new ControlServer(home.socketPath, controlMethods({ node, trust, grants }), defaultLogger().forComponent('gitmesh:control'))
      await control.start()
      const daemon = new Daemon(home, node, db, control, trust)
      await daemon.connectKnownPeers([...config.peers, ...(options.peers ?? [])])
      return daemon
    } catch (err) {
      await node?.stop()
      db.close()
      throw err
    }
  }

  /** Teaches the peer store every trusted address, dials the explicit peers, and keeps RTTs fresh. */
  private async connectKnownPeers (peers: string[]): Promise<void> {
    for (const peer of this.trust.list()) {
      if (peer.addrs.length === 0) continue
      await this.node.peerStore.merge(peerIdFromString(peer.peerId), { multiaddrs: peer.addrs.map(a => multiaddr(a)) }).catch(() => {})
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
    await this.control.stop()
    await this.node.stop()
    this.db.close()
  }
}
