import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { TrustStore } from '../store/trust-store.js'
import type { PeerConnectionLimit } from './connection-limit.js'

/**
 * Deny by default: only peers on the trust list may connect, in either direction. The trust
 * store is consulted on every decision, so `trust`/`untrust` apply without a restart. With a
 * `limit`, a trusted peer that already holds its share of connections gets no more inbound
 * ones: each connection brings its own stream limits, so connections per peer bound what one
 * peer can cost.
 */
export function trustGater (trust: TrustStore, limit?: PeerConnectionLimit): ConnectionGater {
  const deny = (peerId: PeerId): boolean => !trust.isTrusted(peerId.toString())
  return {
    denyDialPeer: deny,
    // Refused as early as the peer id is known (before the muxer), and counted once upgraded.
    denyInboundEncryptedConnection: peerId => deny(peerId) || (limit?.full(peerId) ?? false),
    denyOutboundEncryptedConnection: deny,
    denyInboundUpgradedConnection: peerId => deny(peerId) || !(limit?.admit(peerId) ?? true),
    denyOutboundUpgradedConnection: deny,
    denyInboundRelayedConnection: (_relay, remotePeer) => deny(remotePeer) || (limit?.full(remotePeer) ?? false),
    denyOutboundRelayedConnection: (_source, destination) => deny(destination)
  }
}
