import type { LogStep } from '../jobs/messages.js'
import { LOG_BATCH_BYTES, LOG_BULK_BYTES, LOG_BULK_FLUSH_MS, LOG_FLUSH_MS } from './constants.js'

/** A piece of one step's output, ready to be numbered and sent. */
export interface LogPiece {
  attempt: number
  step: LogStep
  text: string
  /** Bytes of `text` in UTF-8. */
  bytes: number
}

export interface LogBatcherInit {
  /** Called with each batch, in order. */
  onBatch: (piece: LogPiece) => void
  /** @default LOG_BATCH_BYTES */
  batchBytes?: number
  /** @default LOG_FLUSH_MS */
  flushMs?: number
  /** @default LOG_BULK_BYTES */
  bulkBytes?: number
  /** @default LOG_BULK_FLUSH_MS */
  bulkFlushMs?: number
}

/**
 * Gathers a job's output into batches: one goes out when `batchBytes` wait, or `flushMs` after the
 * first unsent byte — `bulkFlushMs` when more than `bulkBytes` came meanwhile (a flood: nobody
 * reads it line by line, and each batch costs the builder a commit and a message) — or when the
 * step changes (a batch belongs to one step of one attempt). A batch is never larger than
 * `batchBytes`: a write that would take it past the bound sends it first, so batches end between
 * writes (no copy to cut them); only a single write larger than a batch is cut, between characters.
 */
export class LogBatcher {
  private pending: string[] = []
  private pendingBytes = 0
  private current?: { attempt: number, step: LogStep }
  private timer?: NodeJS.Timeout
  private readonly batchBytes: number
  private readonly flushMs: number
  private readonly bulkBytes: number
  private readonly bulkFlushMs: number

  constructor (private readonly init: LogBatcherInit) {
    this.batchBytes = init.batchBytes ?? LOG_BATCH_BYTES
    this.flushMs = init.flushMs ?? LOG_FLUSH_MS
    this.bulkBytes = init.bulkBytes ?? LOG_BULK_BYTES
    this.bulkFlushMs = init.bulkFlushMs ?? LOG_BULK_FLUSH_MS
  }

  write (step: LogStep, attempt: number, text: string): void {
    if (text === '') return
    if (this.current !== undefined && (this.current.step !== step || this.current.attempt !== attempt)) this.flush()
    const bytes = Buffer.byteLength(text, 'utf8')
    if (this.pendingBytes > 0 && this.pendingBytes + bytes > this.batchBytes) this.flush()
    this.current = { attempt, step }
    this.pending.push(text)
    this.pendingBytes += bytes
    if (this.pendingBytes >= this.batchBytes) {
      this.flush()
      return
    }
    this.timer ??= setTimeout(() => {
      if (this.pendingBytes <= this.bulkBytes || this.bulkFlushMs <= this.flushMs) {
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
    if (this.pendingBytes === 0 || this.current === undefined) return
    const { attempt, step } = this.current
    const text = this.pending.join('')
    const bytes = this.pendingBytes
    this.pending = []
    this.pendingBytes = 0
    // Within the bound (all but a single write larger than a batch), no UTF-8 copy is made to cut it.
    if (bytes <= this.batchBytes) {
      this.init.onBatch({ attempt, step, text, bytes })
      return
    }
    for (const piece of splitUtf8(text, this.batchBytes)) this.init.onBatch({ attempt, step, text: piece, bytes: Buffer.byteLength(piece, 'utf8') })
  }
}

/** `text` in pieces of at most `maxBytes` bytes of UTF-8 each, cut between characters. */
export function splitUtf8 (text: string, maxBytes: number): string[] {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= maxBytes) return [text]
  const pieces: string[] = []
  let start = 0
  while (start < bytes.length) {
    let end = Math.min(start + maxBytes, bytes.length)
    // Back off continuation bytes (10xxxxxx): the cut falls before a character's first byte.
    while (end < bytes.length && end > start && (bytes[end]! & 0xc0) === 0x80) end--
    pieces.push(bytes.subarray(start, end).toString('utf8'))
    start = end
  }
  return pieces
}
