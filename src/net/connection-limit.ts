import type { PeerId } from '@libp2p/interface'
import { ADMISSION_TIMEOUT_MS } from './constants.js'

/**
 * Inbound connections per peer. The connection manager lists a connection only once it is
 * open, and many handshakes finish at the same moment, so admissions not yet seen open are
 * counted too: a peer dialling 20 times at once gets `max`, not 20. An admission that never
 * opens stops counting after `ADMISSION_TIMEOUT_MS`.
 */
export class PeerConnectionLimit {
  private readonly arriving = new Map<string, number[]>()

  constructor (private readonly max: number, private readonly openConnections: (peer: PeerId) => number) {}

  private pending (peer: string): number[] {
    const now = Date.now()
    const times = (this.arriving.get(peer) ?? []).filter(at => now - at < ADMISSION_TIMEOUT_MS)
    if (times.length === 0) this.arriving.delete(peer)
    else this.arriving.set(peer, times)
    return times
  }

  /** True when the peer already holds as many connections as it may. */
  full (peer: PeerId): boolean {
    return this.openConnections(peer) + this.pending(peer.toString()).length >= this.max
  }

  /** Admits one more connection of the peer unless it is full; false when refused. */
  admit (peer: PeerId): boolean {
    if (this.full(peer)) return false
    const key = peer.toString()
    this.arriving.set(key, [...this.pending(key), Date.now()])
    return true
  }

  /** An admitted connection is open: the connection manager counts it from now on. */
  opened (peer: PeerId): void {
    const times = this.pending(peer.toString())
    times.shift()
    if (times.length === 0) this.arriving.delete(peer.toString())
  }
}
