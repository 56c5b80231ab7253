import { KEEP_ALIVE, type Logger } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { TrustStore } from '../store/trust-store.js'
import type { GitmeshNode } from './node.js'

/** Our keep-alive tag: libp2p redials a peer carrying a tag that starts with `keep-alive`. */
const BUILDER_TAG = `${KEEP_ALIVE}-gitmesh-builder`

/**
 * Keeps a connection open to every peer trusted as a builder (and only to those): the first
 * offer, load query or fetch of a job then costs one stream, not a TCP + Noise + Yamux
 * handshake on the path of the job. libp2p's reconnect queue redials a tagged peer that drops,
 * a few times with back-off; a builder that stays away is dialed again when a job needs it.
 */
export async function keepBuildersConnected (node: GitmeshNode, trust: TrustStore, peerId: string, log: Logger): Promise<void> {
  const peer = peerIdFromString(peerId)
  const wanted = trust.hasRole(peerId, 'builder') && (trust.get(peerId)?.addrs.length ?? 0) > 0
  try {
    await node.peerStore.merge(peer, { tags: { [BUILDER_TAG]: wanted ? { value: 1 } : undefined } })
  } catch (err) {
    log('could not tag %s - %e', peerId, err)
  }
  if (!wanted || node.getConnections(peer).length > 0) return
  // In the background: a builder that is down must not hold up whoever trusted it.
  node.dial(peer).catch(err => { log('could not connect to builder %s yet - %e', peerId, err) })
}
