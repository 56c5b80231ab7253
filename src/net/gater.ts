import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { TrustStore } from '../store/trust-store.js'

/**
 * Deny by default: only peers on the trust list may connect, in either direction. The trust
 * store is consulted on every decision, so `trust`/`untrust` apply without a restart.
 */
export function trustGater (trust: TrustStore): ConnectionGater {
  const deny = (peerId: PeerId): boolean => !trust.isTrusted(peerId.toString())
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
    denyInboundUpgradedConnection: deny,
    denyOutboundUpgradedConnection: deny,
    denyInboundRelayedConnection: (_relay, remotePeer) => deny(remotePeer),
    denyOutboundRelayedConnection: (_source, destination) => deny(destination)
  }
}
