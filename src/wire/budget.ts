import { BUFFER_BUDGET_DAEMON_BYTES, BUFFER_BUDGET_PEER_BYTES } from './constants.js'

export interface BufferBudgetInit {
  /** @default BUFFER_BUDGET_PEER_BYTES */
  peerBytes?: number
  /** @default BUFFER_BUDGET_DAEMON_BYTES */
  daemonBytes?: number
  /** Told when a reader resets a stream over the budget, and again once every byte is released after that. */
  pressure?: BudgetPressure
}

/**
 * What a node does about a budget that was overrun. The bytes a flood makes the node receive and
 * drop are garbage that V8 collects late (it counts buffers outside its heap only by the 64 MiB),
 * so the daemon collects them itself (src/daemon/reclaim.ts).
 */
export interface BudgetPressure {
  /** A reader reset its stream: its unfinished frame would not fit the budget. */
  refused: () => void
  /** Every byte is released again after a reset: the streams that overran are gone. */
  drained: () => void
}

/** One peer's share of a node's budget, as a frame reader uses it. */
export interface PeerBudget {
  readonly peer: string
  /** Counts `bytes` as held; false when that takes the peer or the node past its limit. */
  reserve: (bytes: number) => boolean
  release: (bytes: number) => void
  /** The reader resets its stream, over the budget: what the peer sent it is dropped. */
  overran: () => void
}

/**
 * Bytes that frame readers hold, counted per peer and for the whole node. A limit per
 * connection is not enough: one peer with many connections and streams, each holding part of
 * a 4 MiB frame, could otherwise hold the node's memory. Readers reserve what they buffer
 * before they keep it and release it when a frame is handed on or the stream closes.
 */
export class BufferBudget {
  private readonly peerLimit: number
  private readonly daemonLimit: number
  private readonly perPeer = new Map<string, number>()
  private readonly pressure?: BudgetPressure
  /** A reader reset its stream over the budget since the budget was last empty. */
  private overrun = false
  /** Bytes held by every reader of the node. */
  bytes = 0

  constructor (init: BufferBudgetInit = {}) {
    this.peerLimit = init.peerBytes ?? BUFFER_BUDGET_PEER_BYTES
    this.daemonLimit = init.daemonBytes ?? BUFFER_BUDGET_DAEMON_BYTES
    this.pressure = init.pressure
  }

  bytesOf (peer: string): number {
    return this.perPeer.get(peer) ?? 0
  }

  forPeer (peer: string): PeerBudget {
    return {
      peer,
      reserve: bytes => this.reserve(peer, bytes),
      release: bytes => { this.release(peer, bytes) },
      overran: () => { this.overran() }
    }
  }

  private reserve (peer: string, bytes: number): boolean {
    const held = this.bytesOf(peer) + bytes
    this.perPeer.set(peer, held)
    this.bytes += bytes
    return held <= this.peerLimit && this.bytes <= this.daemonLimit
  }

  private overran (): void {
    this.overrun = true
    this.pressure?.refused()
  }

  private release (peer: string, bytes: number): void {
    const held = this.bytesOf(peer) - bytes
    if (held <= 0) this.perPeer.delete(peer)
    else this.perPeer.set(peer, held)
    this.bytes = Math.max(0, this.bytes - bytes)
    if (this.bytes === 0 && this.overrun) {
      this.overrun = false
      this.pressure?.drained()
    }
  }
}
