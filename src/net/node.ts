import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import type { PrivateKey } from '@libp2p/interface'
import type { Exchange, ExchangeComponents } from '../exchange/index.js'
import type { TrustStore } from '../store/trust-store.js'
import { trustGater } from './gater.js'
import { PeerConnectionLimit } from './connection-limit.js'
import type { BufferBudget } from '../wire/budget.js'
import { MAX_CONNECTIONS_PER_PEER, DEFAULT_LISTEN, INBOUND_CONNECTION_THRESHOLD, MAX_INBOUND_STREAMS_PER_CONNECTION, MAX_INCOMING_PENDING_CONNECTIONS, MAX_STREAM_READ_BUFFER_BYTES, MAX_STREAM_WINDOW_BYTES } from './constants.js'

// A type alias, not an interface: libp2p's ServiceMap needs an index signature.
export type NodeServices = {
  identify: Identify
  ping: Ping
  exchange: Exchange
  /** Bytes buffered by frame readers, per peer and in all, shared by every protocol of the node. */
  buffers: BufferBudget
}

export type GitmeshNode = Libp2p<NodeServices>

export interface GitmeshNodeInit {
  privateKey: PrivateKey
  trust: TrustStore
  /** @default [DEFAULT_LISTEN] */
  listen?: string[]
  /** @default MAX_CONNECTIONS_PER_PEER */
  maxConnectionsPerPeer?: number
  /** gitmesh's own services, composed by the daemon (src/daemon/node.ts). */
  services: {
    exchange: (components: ExchangeComponents) => Exchange
    buffers: BufferBudget
  }
}

/**
 * A libp2p node speaking TCP + Noise + Yamux with identify and ping behind the trust gater, at most
 * MAX_CONNECTIONS_PER_PEER connections from one peer, and the services the daemon gives it.
 */
export async function createGitmeshNode (init: GitmeshNodeInit): Promise<GitmeshNode> {
  const buffers = init.services.buffers
  // The limit counts a peer's connections through the node, which exists only once it is made.
  const made: { node?: GitmeshNode } = {}
  const limit = new PeerConnectionLimit(init.maxConnectionsPerPeer ?? MAX_CONNECTIONS_PER_PEER, peer => made.node?.getConnections(peer).length ?? 0)
  const gater = trustGater(init.trust, limit)
  const node = await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen ?? [DEFAULT_LISTEN] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxInboundStreams: MAX_INBOUND_STREAMS_PER_CONNECTION, streamOptions: { maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES, maxReadBufferLength: MAX_STREAM_READ_BUFFER_BYTES } })],
    connectionGater: gater,
    connectionManager: {
      inboundConnectionThreshold: INBOUND_CONNECTION_THRESHOLD,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS
    },
    services: {
      identify: identify(),
      ping: ping(),
      exchange: init.services.exchange,
      buffers: () => buffers
    }
  })
  made.node = node
  node.addEventListener('connection:open', evt => { if (evt.detail.direction === 'inbound') limit.opened(evt.detail.remotePeer) })
  return node
}
