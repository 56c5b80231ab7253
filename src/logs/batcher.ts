import type { LogStep } from '../jobs/messages.js'
import { LOG_BATCH_BYTES, LOG_BULK_BYTES, LOG_BULK_FLUSH_MS, LOG_FLUSH_MS, LOG_SEND_BYTES } from './constants.js'

/**
 * Output as it came: text (masked output), or the pipe's raw bytes of valid UTF-8 cut between
 * characters (output with no secret to mask: no decoding on the way to the author).
 */
export type LogText = string | Buffer

/** A piece of one step's output, ready to be numbered and sent. */
export interface LogPiece {
  attempt: number
  step: LogStep
  text: LogText
  /** Bytes of `text` in UTF-8. */
  bytes: number
  /** The last piece gathered for now: it and those before it may go (false: more is gathering). */
  ready: boolean
}

export interface LogBatcherInit {
  /** Called with each batch, in order. */
  onBatch: (piece: LogPiece) => void
  /** @default LOG_BATCH_BYTES */
  batchBytes?: number
  /** @default LOG_SEND_BYTES */
  sendBytes?: number
  /** @default LOG_FLUSH_MS */
  flushMs?: number
  /** @default LOG_BULK_BYTES */
  bulkBytes?: number
  /** @default LOG_BULK_FLUSH_MS */
  bulkFlushMs?: number
}

/** Bytes of UTF-8 in `text`. */
export const logTextBytes = (text: LogText): number => typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.byteLength

/** `text` as a string (decoded only when it came as bytes). */
export const logTextString = (text: LogText): string => typeof text === 'string' ? text : text.toString('utf8')

/**
 * Gathers a job's output into batches of at most `batchBytes`, and says when they may go: once
 * `sendBytes` wait, or `flushMs` after the first unsent byte — `bulkFlushMs` when more than
 * `bulkBytes` came meanwhile (a flood: nobody reads it line by line, and each message costs the
 * builder a stream) — or when the step changes (a batch belongs to one step of one attempt).
 * Batches end between writes (no copy to cut them); only a single write larger than a batch is
 * cut, between characters. Batches gathered but not yet ready are handed over (`ready: false`) so
 * that what is held here stays under `batchBytes`.
 */
export class LogBatcher {
  private pending: LogText[] = []
  private pendingBytes = 0
  /** Bytes handed over since the last ready piece. */
  private gatheredBytes = 0
  private current?: { attempt: number, step: LogStep }
  private timer?: NodeJS.Timeout
  private readonly batchBytes: number
  private readonly sendBytes: number
  private readonly flushMs: number
  private readonly bulkBytes: number
  private readonly bulkFlushMs: number

  constructor (private readonly init: LogBatcherInit) {
    this.batchBytes = init.batchBytes ?? LOG_BATCH_BYTES
    this.sendBytes = Math.max(init.sendBytes ?? LOG_SEND_BYTES, this.batchBytes)
    this.flushMs = init.flushMs ?? LOG_FLUSH_MS
    this.bulkBytes = init.bulkBytes ?? LOG_BULK_BYTES
    this.bulkFlushMs = init.bulkFlushMs ?? LOG_BULK_FLUSH_MS
  }

  write (step: LogStep, attempt: number, text: LogText): void {
    const bytes = logTextBytes(text)
    if (bytes === 0) return
    if (this.current !== undefined && (this.current.step !== step || this.current.attempt !== attempt)) this.flush()
    if (this.pendingBytes > 0 && this.pendingBytes + bytes > this.batchBytes) this.hand(false)
    this.current = { attempt, step }
    this.pending.push(text)
    this.pendingBytes += bytes
    if (this.gatheredBytes + this.pendingBytes >= this.sendBytes) {
      this.flush()
      return
    }
    if (this.pendingBytes >= this.batchBytes) this.hand(false)
    this.timer ??= setTimeout(() => {
      if (this.gatheredBytes + this.pendingBytes <= this.bulkBytes || this.bulkFlushMs <= this.flushMs) {
        this.flush()
        return
      }
      this.timer = setTimeout(() => { this.flush() }, this.bulkFlushMs - this.flushMs)
    }, this.flushMs)
  }

  /** Sends whatever waits now. */
  flush (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.hand(true)
    this.gatheredBytes = 0
  }

  /** Hands over what is pending, as batches of at most `batchBytes`; the last one `ready` when asked. */
  private hand (ready: boolean): void {
    if (this.current === undefined) return
    const { attempt, step } = this.current
    if (this.pendingBytes === 0) {
      // Nothing new, but pieces handed over earlier may now go: an empty ready piece says so.
      if (ready && this.gatheredBytes > 0) this.init.onBatch({ attempt, step, text: '', bytes: 0, ready })
      return
    }
    const pending = this.pending
    const bytes = this.pendingBytes
    this.pending = []
    this.pendingBytes = 0
    this.gatheredBytes += bytes
    const text = joinLogText(pending)
    // Within the bound (all but a single write larger than a batch), no copy is made to cut it.
    if (bytes <= this.batchBytes) {
      this.init.onBatch({ attempt, step, text, bytes, ready })
      return
    }
    const pieces = typeof text === 'string' ? splitUtf8(text, this.batchBytes) : splitUtf8Bytes(text, this.batchBytes)
    pieces.forEach((piece, i) => { this.init.onBatch({ attempt, step, text: piece, bytes: logTextBytes(piece), ready: ready && i === pieces.length - 1 }) })
  }
}

/** Writes joined: bytes stay bytes (one copy), text stays text; a mix (never within one run) becomes text. */
export function joinLogText (texts: LogText[]): LogText {
  if (texts.length === 1) return texts[0]!
  if (texts.every(text => typeof text !== 'string')) return Buffer.concat(texts as Buffer[])
  return texts.map(logTextString).join('')
}

/** `text` in pieces of at most `maxBytes` bytes of UTF-8 each, cut between characters. */
export function splitUtf8 (text: string, maxBytes: number): string[] {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= maxBytes) return [text]
  return splitUtf8Bytes(bytes, maxBytes).map(piece => piece.toString('utf8'))
}

/** UTF-8 `bytes` in views of at most `maxBytes` each (no copy), cut before a character's first byte. */
export function splitUtf8Bytes (bytes: Buffer, maxBytes: number): Buffer[] {
  if (bytes.length <= maxBytes) return [bytes]
  const pieces: Buffer[] = []
  let start = 0
  while (start < bytes.length) {
    let end = Math.min(start + maxBytes, bytes.length)
    // Back off continuation bytes (10xxxxxx): at most 3 in valid UTF-8.
    while (end < bytes.length && end > start && (bytes[end]! & 0xc0) === 0x80) end--
    pieces.push(bytes.subarray(start, end))
    start = end
  }
  return pieces
}
