import type { Logger } from '@libp2p/interface'
import type { LogStep } from '../jobs/messages.js'
import type { SendJobMessage } from '../jobs/wire.js'
import { LogBatcher, logTextString, type LogText } from './batcher.js'
import { LOG_DEFLATE_MIN_BYTES, LOG_DRAIN_TIMEOUT_MS, LOG_RETRY_MS, LOG_SEND_TIMEOUT_MS, LOG_SPILL_MS, MAX_LOG_INFLATED_BYTES, MAX_LOG_TEXT_BYTES } from './constants.js'
import { deflateLogText } from './deflate.js'
import type { LogSpool, SpooledChunk, StreamKey } from './spool.js'

export interface LogShipperInit {
  spool: LogSpool
  send: SendJobMessage
  log: Logger
  /** @default LOG_RETRY_MS */
  retryMs?: number
  /** @default LOG_SPILL_MS */
  spillMs?: number
  /** @default LOG_DEFLATE_MIN_BYTES */
  deflateMinBytes?: number
}

const streamId = (key: StreamKey): string => `${key.author}/${key.job}/${key.round}`

/**
 * Sends each job round's live output to its author: batches (batcher.ts) are kept in the spool
 * first, then sent in order, one `log` in flight per stream, each starting where the author's last
 * reply said it stands; the batches kept while one was in flight go out together. The spool holds
 * them in memory; what the author has not confirmed within `spillMs`, or after a failed send, or
 * when the shipper stops, is written to the database. A failed send is tried again after `retryMs` and whenever the author
 * connects (`resume`); a decline means the author does not take logs for that job (an older
 * author declines the unknown type): that stream stops. A batch of `deflateMinBytes` or more goes
 * deflated; an author from before deflated logs declines that `bad-request` (an unknown key), and
 * gets the same batch, and every later one, as plain text until it connects again.
 */
export class LogShipper {
  private readonly batchers = new Map<string, LogBatcher>()
  private readonly pumping = new Map<string, Promise<void>>()
  private readonly again = new Set<string>()
  private readonly retries = new Map<string, NodeJS.Timeout>()
  private readonly declined = new Set<string>()
  private readonly waiters = new Map<string, Set<() => void>>()
  /** Authors that refused a deflated batch: they get plain text. */
  private readonly plainAuthors = new Set<string>()
  private spillTimer?: NodeJS.Timeout
  private stopped = false
  /** Set while stopping: batches are still stored, but no more are sent. */
  private stopping = false

  constructor (private readonly init: LogShipperInit) {}

  /** The writer of one job round's output (what runStep's `onOutput` gets). */
  writer (key: StreamKey): (step: LogStep, attempt: number, text: LogText) => void {
    const id = streamId(key)
    this.declined.delete(id)
    const batcher = new LogBatcher({
      onBatch: piece => {
        // After `end` (its batcher is gone) or a decline, output of this writer goes nowhere.
        if (this.batchers.get(id) !== batcher || this.declined.has(id) || this.stopped) return
        if (piece.bytes > 0) this.init.spool.append(key, piece.attempt, piece.step, piece.text, piece.bytes)
        // A piece not `ready` is kept only: more of the same message is gathering.
        if (piece.ready && !this.stopping) this.kick(key)
      }
    })
    this.batchers.set(id, batcher)
    this.watchMemory()
    return (step, attempt, text) => { batcher.write(step, attempt, text) }
  }

  /**
   * The round's commands are over: what waits is sent, and this resolves once the author has it
   * all, or declined it, or after `LOG_DRAIN_TIMEOUT_MS` (an author away gets it when it is back).
   */
  async end (key: StreamKey): Promise<void> {
    const id = streamId(key)
    this.batchers.get(id)?.flush()
    this.batchers.delete(id)
    // A stopped shipper's streams are resumed after the next start; the database may be closing.
    if (this.stopped) return
    this.init.spool.end(key)
    await this.drained(key)
    // A declined stream's spool is gone and its batcher too: nothing will ask about it again.
    this.declined.delete(id)
  }

  /** Resolves once the author holds everything stored for this stream (bounded by `ms`). */
  async drained (key: StreamKey, ms = LOG_DRAIN_TIMEOUT_MS): Promise<void> {
    const id = streamId(key)
    const done = (): boolean => this.stopped || this.declined.has(id) || (!this.pumping.has(id) && this.init.spool.delivered(key))
    if (done()) return
    await new Promise<void>(resolve => {
      const waiters = this.waiters.get(id) ?? new Set()
      this.waiters.set(id, waiters)
      const finish = (): void => {
        clearTimeout(timer)
        waiters.delete(check)
        if (waiters.size === 0 && this.waiters.get(id) === waiters) this.waiters.delete(id)
        resolve()
      }
      const check = (): void => { if (done()) finish() }
      const timer = setTimeout(finish, ms)
      waiters.add(check)
    })
  }

  /** Sends what the author lacks of every stream (of `author` only, when given). */
  resume (author?: string): void {
    // The author connected again, maybe upgraded: it is offered deflated batches again.
    if (author !== undefined) this.plainAuthors.delete(author)
    for (const key of this.init.spool.undelivered()) {
      if (author === undefined || key.author === author) this.kick(key)
    }
  }

  /** Stops sending; safe to call twice. What is stored goes out after the next start. */
  stop (): void {
    if (this.stopped) return
    // What waits in the batchers is stored first, and sent after the next start.
    this.stopping = true
    for (const batcher of this.batchers.values()) batcher.flush()
    this.stopped = true
    clearInterval(this.spillTimer)
    this.spillTimer = undefined
    this.init.spool.persist()
    for (const timer of this.retries.values()) clearTimeout(timer)
    this.retries.clear()
    for (const waiters of this.waiters.values()) for (const check of [...waiters]) check()
  }

  private kick (key: StreamKey): void {
    const id = streamId(key)
    if (this.stopped || this.declined.has(id)) return
    clearTimeout(this.retries.get(id))
    this.retries.delete(id)
    if (this.pumping.has(id)) {
      this.again.add(id)
      return
    }
    const pumping = this.pump(key)
      .catch(err => { this.init.log.error('live log of %s failed - %e', key.job, err) })
      .finally(() => {
        this.pumping.delete(id)
        if (this.again.delete(id)) this.kick(key)
        for (const check of [...this.waiters.get(id) ?? []]) check()
      })
    this.pumping.set(id, pumping)
  }

  private async pump (key: StreamKey): Promise<void> {
    const id = streamId(key)
    let from = this.init.spool.acknowledged(key)
    let stalled = 0
    while (!this.stopped) {
      const batch = this.nextMessage(key, from)
      if (batch === undefined) return
      const { chunk, deflated } = batch
      let reply
      try {
        reply = await this.init.send(key.author, {
          type: 'log',
          job: key.job,
          round: key.round,
          attempt: chunk.attempt,
          step: chunk.step,
          offset: chunk.offset,
          ...(deflated === undefined ? { text: logTextString(chunk.text) } : { deflated }),
          ...(chunk.gap ? { gap: true as const } : {})
        }, { signal: AbortSignal.timeout(LOG_SEND_TIMEOUT_MS) })
      } catch (err) {
        this.init.log('live log of %s not delivered yet - %e', key.job, err)
        this.retryLater(key)
        return
      }
      if (reply.type === 'decline' && reply.code === 'bad-request' && deflated !== undefined) {
        // An author from before deflated logs refuses the key it does not know: plain text from now on.
        this.init.log('%s takes no deflated live log (%s); sending it plain text', key.author, reply.message)
        this.plainAuthors.add(key.author)
        continue
      }
      if (reply.type === 'decline') {
        this.init.log('%s takes no live log of %s (%s: %s)', key.author, key.job, reply.code, reply.message)
        this.declined.add(id)
        this.init.spool.drop(key)
        return
      }
      // An author that does not say where it stands took the whole batch.
      const held = reply.offset ?? chunk.offset + chunk.bytes
      this.init.spool.acked(key, held)
      // An author that keeps asking for bytes without taking them is asked again later, not in a loop.
      stalled = held < chunk.offset + chunk.bytes ? stalled + 1 : 0
      if (stalled >= 2) {
        this.retryLater(key)
        return
      }
      from = held
    }
  }

  /**
   * The next message of a stream: deflated, up to `MAX_LOG_INFLATED_BYTES` of text, to an author
   * that takes it; else (a small batch, an older author, text that does not shrink) plain, up to
   * `MAX_LOG_TEXT_BYTES`.
   */
  private nextMessage (key: StreamKey, from: number): { chunk: SpooledChunk & { gap: boolean }, deflated?: Uint8Array } | undefined {
    const deflates = !this.plainAuthors.has(key.author)
    const chunk = this.init.spool.next(key, from, deflates ? MAX_LOG_INFLATED_BYTES : MAX_LOG_TEXT_BYTES)
    if (chunk === undefined) return undefined
    if (deflates && chunk.bytes >= (this.init.deflateMinBytes ?? LOG_DEFLATE_MIN_BYTES)) {
      const deflated = deflateLogText(chunk.text)
      if (deflated !== undefined) return { chunk, deflated }
    }
    if (chunk.bytes <= MAX_LOG_TEXT_BYTES) return { chunk }
    return { chunk: this.init.spool.next(key, from, MAX_LOG_TEXT_BYTES)! }
  }

  /** Writes out, every half `spillMs`, the batches the author has not confirmed within `spillMs`. */
  private watchMemory (): void {
    if (this.spillTimer !== undefined || this.stopped) return
    const spillMs = this.init.spillMs ?? LOG_SPILL_MS
    this.spillTimer = setInterval(() => {
      for (const key of this.init.spool.stale(spillMs)) this.init.spool.spill(key, { olderThanMs: spillMs })
    }, spillMs / 2)
    this.spillTimer.unref()
  }

  private retryLater (key: StreamKey): void {
    const id = streamId(key)
    // The author is away: what waits goes to the database (it may be away for long).
    if (!this.stopped) this.init.spool.spill(key)
    if (this.stopped || this.retries.has(id)) return
    const timer = setTimeout(() => {
      this.retries.delete(id)
      this.kick(key)
    }, this.init.retryMs ?? LOG_RETRY_MS)
    timer.unref()
    this.retries.set(id, timer)
  }
}
