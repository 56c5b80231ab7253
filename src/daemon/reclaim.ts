import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { BudgetPressure } from '../wire/budget.js'
import { FLOOD_COLLECT_DELAY_MS, FLOOD_COLLECT_INTERVAL_MS, FLOOD_COLLECT_SETTLE_MS } from './constants.js'

type Collect = () => void

let collector: Collect | undefined

/** V8's full collection, made callable once (as `node --expose-gc` would). */
function collectGarbage (): void {
  if (collector === undefined) {
    setFlagsFromString('--expose-gc')
    collector = runInNewContext('gc') as Collect
  }
  collector()
}

/**
 * Collects the garbage of a flood while it lasts and once it is over. Each chunk a peer sends is
 * decrypted into a new buffer outside V8's heap; when streams over the buffer budget are reset,
 * everything they were sent is garbage at once, and V8 only collects it once such buffers have
 * grown by 64 MiB since the last collection, or never on an idle daemon. So while readers reset
 * streams over the budget the daemon collects at most every FLOOD_COLLECT_INTERVAL_MS, and once the
 * budget is empty again (the streams are gone) it collects after FLOOD_COLLECT_DELAY_MS and a last
 * time FLOOD_COLLECT_SETTLE_MS later.
 * An ordinary peer never has a stream reset, so it never pays for this. V8's heap and buffers are
 * back at their baseline then; the pages glibc keeps are not (docs/security.md).
 */
export class FloodReclaimer implements BudgetPressure {
  /** When the last collection ran (performance.now()). */
  private last?: number
  private pending?: NodeJS.Timeout
  /** Collections made (tests read it). */
  collections = 0

  constructor (private readonly collect: Collect = collectGarbage) {}

  refused (): void {
    if (this.pending !== undefined) return
    const wait = this.last === undefined ? 0 : Math.max(0, this.last + FLOOD_COLLECT_INTERVAL_MS - performance.now())
    this.schedule(wait)
  }

  drained (): void {
    if (this.pending !== undefined) clearTimeout(this.pending)
    this.pending = undefined
    // One collection soon, and one more once the streams' teardown is surely over: what the muxer
    // still held for them (the budget does not count it) is garbage only then, and an idle daemon
    // would never collect it.
    this.schedule(FLOOD_COLLECT_DELAY_MS, () => { this.schedule(FLOOD_COLLECT_SETTLE_MS) })
  }

  private schedule (ms: number, then?: () => void): void {
    this.pending = setTimeout(() => {
      this.pending = undefined
      this.last = performance.now()
      this.collections++
      this.collect()
      then?.()
    }, ms)
    this.pending.unref()
  }
}
