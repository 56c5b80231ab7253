import { transaction, type Db } from '../store/database.js'
import { Statements } from './statements.js'
import type { LogStep } from '../jobs/messages.js'
import { joinLogText, logTextBytes, logTextString, type LogText } from './batcher.js'
import { LOG_MEMORY_BYTES, LOG_OFFSET_RESERVE_BYTES, MAX_SPOOL_BYTES } from './constants.js'

/** One job round's log stream on a builder: to whom, which job, which round. */
export interface StreamKey {
  author: string
  job: string
  round: number
}

/** A stored batch, at its offset in the stream. */
export interface SpooledChunk {
  offset: number
  bytes: number
  attempt: number
  step: LogStep
  /** Bytes while in memory (output with no secret to mask), text once read from the database. */
  text: LogText
}

/** A batch kept in memory, with when it was made. */
interface HeldChunk extends SpooledChunk {
  at: number
}

/** A stream's state in memory while this process writes it. */
interface LiveStream {
  /** Offset of the next byte. */
  end: number
  /** Offsets up to here are reserved in the database (`next_offset`). */
  reserved: number
  /** Where the author stands, as far as this process knows. */
  acked: number
  /** The database may hold batches below this offset (written out, or from before a restart). */
  storedEnd: number
  /** Batches not confirmed and not yet written out, in order, all past `storedEnd`. */
  chunks: HeldChunk[]
  bytes: number
  ended: boolean
  /** Whether the database holds batches of it, once asked (undefined: not known). */
  stored?: boolean
}

const streamId = (key: StreamKey): string => `${key.author}/${key.job}/${key.round}`

/**
 * A builder's live output that its author has not taken yet, per job round: in memory while the
 * author confirms it promptly, in the node's database once it is not confirmed in time (the shipper's `LOG_SPILL_MS`),
 * a send failed, the memory bound is reached, or the builder stops (`spill`): what an author that
 * was away (asleep, restarting) gets when it is back. Offsets count bytes of UTF-8 from the round's
 * start and keep counting across a builder restart (the round then runs again and its output
 * continues the same stream): the database holds a reservation ahead of the stream's end, written
 * once per `LOG_OFFSET_RESERVE_BYTES`, exact after a clean stop; after a crash the output continues
 * past the reservation, and what was lost in memory reaches the author as a `gap`. Bounded per
 * round: past `maxBytes` the oldest chunks go, and the author is told of the gap.
 */
export class LogSpool {
  constructor (private readonly db: Db, private readonly maxBytes = MAX_SPOOL_BYTES, private readonly init: { memoryBytes?: number, reserveBytes?: number } = {}) {
    this.sql = new Statements(db)
  }

  private readonly sql: Statements
  private readonly live = new Map<string, LiveStream>()

  /** Keeps a batch at the end of its stream (`bytes`: its UTF-8 length, when known); returns its offset. No disk write but once per reservation. */
  append (key: StreamKey, attempt: number, step: LogStep, text: LogText, bytes = logTextBytes(text)): number {
    const stream = this.stream(key)
    const offset = stream.end
    stream.end += bytes
    stream.ended = false
    if (stream.end > stream.reserved) {
      stream.reserved = stream.end + (this.init.reserveBytes ?? LOG_OFFSET_RESERVE_BYTES)
      this.sql.get(`INSERT INTO spool_streams (author, job_id, round, next_offset, acked, ended) VALUES (?, ?, ?, ?, ?, 0)
        ON CONFLICT DO UPDATE SET next_offset = excluded.next_offset, ended = 0`)
        .run(key.author, key.job, key.round, stream.reserved, stream.acked)
    }
    stream.chunks.push({ offset, bytes, attempt, step, text, at: Date.now() })
    stream.bytes += bytes
    if (stream.bytes > (this.init.memoryBytes ?? LOG_MEMORY_BYTES)) this.spill(key, { keepBytes: (this.init.memoryBytes ?? LOG_MEMORY_BYTES) / 2 })
    return offset
  }

  /**
   * Writes to the database what memory holds of a stream and the author has not confirmed: all of
   * it, only the batches older than `olderThanMs`, or all but the newest `keepBytes`. One commit.
   */
  spill (key: StreamKey, { olderThanMs, keepBytes }: { olderThanMs?: number, keepBytes?: number } = {}): void {
    const stream = this.live.get(streamId(key))
    if (stream === undefined || stream.chunks.length === 0) return
    let count = stream.chunks.length
    if (olderThanMs !== undefined) {
      const before = Date.now() - olderThanMs
      count = stream.chunks.findIndex(chunk => chunk.at > before)
      if (count === -1) count = stream.chunks.length
    } else if (keepBytes !== undefined) {
      let kept = 0
      while (count > 0 && kept + stream.chunks[count - 1]!.bytes <= keepBytes) kept += stream.chunks[--count]!.bytes
    }
    if (count === 0) return
    const out = stream.chunks.splice(0, count)
    transaction(this.db, () => {
      for (const chunk of out) {
        this.sql.get('INSERT INTO spool_chunks (author, job_id, round, offset, bytes, attempt, step, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(key.author, key.job, key.round, chunk.offset, chunk.bytes, chunk.attempt, chunk.step, logTextString(chunk.text))
        stream.bytes -= chunk.bytes
      }
      const last = out.at(-1)!
      stream.storedEnd = last.offset + last.bytes
      stream.stored = true
      this.sql.get('UPDATE spool_streams SET acked = ? WHERE author = ? AND job_id = ? AND round = ?').run(stream.acked, key.author, key.job, key.round)
      // At most `maxBytes` of a stream stay: every batch that ends before the cut point goes.
      if (stream.storedEnd > this.maxBytes) {
        this.sql.get('DELETE FROM spool_chunks WHERE author = ? AND job_id = ? AND round = ? AND offset + bytes <= ?')
          .run(key.author, key.job, key.round, stream.storedEnd - this.maxBytes)
      }
    })
  }

  /** Streams with batches in memory older than `ms` (the shipper writes them out). */
  stale (ms: number): StreamKey[] {
    const before = Date.now() - ms
    const keys: StreamKey[] = []
    for (const [id, stream] of this.live) {
      if (stream.chunks.length > 0 && stream.chunks[0]!.at <= before) {
        const [author, job, round] = id.split('/')
        keys.push({ author: author!, job: job!, round: Number(round) })
      }
    }
    return keys
  }

  /**
   * Writes out everything memory holds, with each stream's exact end (a clean stop: the round's
   * output continues after a restart with no gap). Nothing may be appended afterwards.
   */
  persist (): void {
    for (const [id, stream] of [...this.live]) {
      const [author, job, round] = id.split('/')
      const key = { author: author!, job: job!, round: Number(round) }
      this.spill(key)
      this.sql.get('UPDATE spool_streams SET next_offset = ?, acked = ?, ended = ? WHERE author = ? AND job_id = ? AND round = ?').run(stream.end, stream.acked, stream.ended ? 1 : 0, key.author, key.job, key.round)
      this.live.delete(id)
    }
  }

  private stream (key: StreamKey): LiveStream {
    const id = streamId(key)
    let stream = this.live.get(id)
    if (stream === undefined) {
      // A stream this process has not written yet: it continues where the database says it ends.
      const row = this.sql.get('SELECT next_offset, acked FROM spool_streams WHERE author = ? AND job_id = ? AND round = ?')
        .get(key.author, key.job, key.round) as { next_offset: number, acked: number } | undefined
      const end = row?.next_offset ?? 0
      stream = { end, reserved: row === undefined ? 0 : end, acked: row?.acked ?? 0, storedEnd: end, chunks: [], bytes: 0, ended: false, stored: row === undefined ? false : undefined }
      this.live.set(id, stream)
    }
    return stream
  }

  /**
   * What to send to an author that holds the stream up to `from`: the stored batches from that
   * offset on (the first cut to start there), joined while they follow each other and belong to
   * the same step of the same attempt, up to `maxBytes` — a backlog goes out in few messages.
   * When the builder no longer has the bytes at `from`, it starts at the first it has, with `gap`.
   */
  next (key: StreamKey, from: number, maxBytes = Number.POSITIVE_INFINITY): (SpooledChunk & { gap: boolean }) | undefined {
    const stream = this.live.get(streamId(key))
    // What the database holds comes first; past it, memory (no read of what is still in memory).
    if (stream === undefined || from < stream.storedEnd) {
      const stored = this.nextStored(key, from, maxBytes)
      if (stored !== undefined || stream === undefined) return stored
    }
    return joinChunks(stream.chunks, from, maxBytes)
  }

  private nextStored (key: StreamKey, from: number, maxBytes: number): (SpooledChunk & { gap: boolean }) | undefined {
    const first = this.sql.get(`SELECT offset, bytes, attempt, step, text FROM spool_chunks
      WHERE author = ? AND job_id = ? AND round = ? AND offset + bytes > ? ORDER BY offset LIMIT 1`)
      .get(key.author, key.job, key.round, from) as SpooledChunk | undefined
    if (first === undefined) return undefined
    // Only the batches that can join it are read: those starting within `maxBytes` of it.
    const rows = [first, ...this.sql.get(`SELECT offset, bytes, attempt, step, text FROM spool_chunks
      WHERE author = ? AND job_id = ? AND round = ? AND offset > ? AND offset < ? ORDER BY offset`)
      .all(key.author, key.job, key.round, first.offset, first.offset + Math.min(maxBytes, Number.MAX_SAFE_INTEGER / 2)) as SpooledChunk[]]
    return joinChunks(rows, from, maxBytes)
  }

  /** The author holds the stream up to `offset`: what lies before it is no longer kept here. */
  acked (key: StreamKey, offset: number): void {
    const stream = this.live.get(streamId(key))
    if (stream === undefined) {
      this.ackStored(key, offset)
      return
    }
    stream.acked = offset
    while (stream.chunks.length > 0 && stream.chunks[0]!.offset + stream.chunks[0]!.bytes <= offset) stream.bytes -= stream.chunks.shift()!.bytes
    // The database is written only when it holds batches of this stream, or once it is all delivered.
    if (stream.stored !== false && this.storedBelow(key, stream)) {
      this.ackStored(key, offset)
      // Every stored batch ends at or before `storedEnd`: past it, none is left.
      if (offset >= stream.storedEnd) stream.stored = false
    }
    if (stream.ended) this.finish(key, stream)
  }

  /** The round's commands are over: once the author has it all, the stream is forgotten. */
  end (key: StreamKey): void {
    const stream = this.live.get(streamId(key))
    if (stream === undefined) {
      transaction(this.db, () => {
        this.sql.get('UPDATE spool_streams SET ended = 1 WHERE author = ? AND job_id = ? AND round = ?').run(key.author, key.job, key.round)
        this.forgetDelivered(key)
      })
      return
    }
    stream.ended = true
    this.finish(key, stream)
  }

  /** An ended stream the author holds whole: its exact end written, and forgotten once delivered. */
  private finish (key: StreamKey, stream: LiveStream): void {
    if (stream.acked < stream.end) return
    transaction(this.db, () => {
      this.sql.get('UPDATE spool_streams SET next_offset = ?, acked = ?, ended = 1 WHERE author = ? AND job_id = ? AND round = ?').run(stream.end, stream.acked, key.author, key.job, key.round)
      this.sql.get('DELETE FROM spool_chunks WHERE author = ? AND job_id = ? AND round = ?').run(key.author, key.job, key.round)
      this.forgetDelivered(key)
    })
    this.live.delete(streamId(key))
  }

  /** True while the database may hold batches of this stream that the author lacks. */
  private storedBelow (key: StreamKey, stream: LiveStream): boolean {
    if (stream.stored === undefined) stream.stored = this.sql.get('SELECT 1 FROM spool_chunks WHERE author = ? AND job_id = ? AND round = ? LIMIT 1').get(key.author, key.job, key.round) !== undefined
    return stream.stored
  }

  private ackStored (key: StreamKey, offset: number): void {
    transaction(this.db, () => {
      this.sql.get('UPDATE spool_streams SET acked = ? WHERE author = ? AND job_id = ? AND round = ?').run(offset, key.author, key.job, key.round)
      this.sql.get('DELETE FROM spool_chunks WHERE author = ? AND job_id = ? AND round = ? AND offset + bytes <= ?').run(key.author, key.job, key.round, offset)
      this.forgetDelivered(key)
    })
  }

  private forgetDelivered (key: StreamKey): void {
    this.sql.get('DELETE FROM spool_streams WHERE author = ? AND job_id = ? AND round = ? AND ended = 1 AND acked >= next_offset')
      .run(key.author, key.job, key.round)
  }

  /** Where the author was last known to stand (0 for a new stream). */
  acknowledged (key: StreamKey): number {
    const stream = this.live.get(streamId(key))
    if (stream !== undefined) return stream.acked
    const row = this.sql.get('SELECT acked FROM spool_streams WHERE author = ? AND job_id = ? AND round = ?').get(key.author, key.job, key.round) as { acked: number } | undefined
    return row?.acked ?? 0
  }

  /** True when the author has everything kept so far. */
  delivered (key: StreamKey): boolean {
    const stream = this.live.get(streamId(key))
    if (stream !== undefined) return stream.acked >= stream.end
    const row = this.sql.get('SELECT acked, next_offset FROM spool_streams WHERE author = ? AND job_id = ? AND round = ?').get(key.author, key.job, key.round) as { acked: number, next_offset: number } | undefined
    return row === undefined || row.acked >= row.next_offset
  }

  /** Streams with output their author has not taken yet. */
  undelivered (): StreamKey[] {
    const rows = this.sql.get('SELECT author, job_id, round FROM spool_streams').all() as Array<{ author: string, job_id: string, round: number }>
    return rows.map(row => ({ author: row.author, job: row.job_id, round: row.round })).filter(key => !this.delivered(key))
  }

  /** Forgets a stream (its author does not take logs, or no longer has the job). */
  drop (key: StreamKey): void {
    this.live.delete(streamId(key))
    transaction(this.db, () => {
      this.sql.get('DELETE FROM spool_chunks WHERE author = ? AND job_id = ? AND round = ?').run(key.author, key.job, key.round)
      this.sql.get('DELETE FROM spool_streams WHERE author = ? AND job_id = ? AND round = ?').run(key.author, key.job, key.round)
    })
  }
}

/**
 * The batches from offset `from` on (the first cut to start there), joined while they follow each
 * other and belong to the same step of the same attempt, up to `maxBytes`; `gap` when the first
 * starts past `from`.
 */
function joinChunks (rows: SpooledChunk[], from: number, maxBytes: number): (SpooledChunk & { gap: boolean }) | undefined {
  const index = rows.findIndex(row => row.offset + row.bytes > from)
  if (index === -1) return undefined
  const first = rows[index]!
  let head: SpooledChunk = first
  if (first.offset < from) {
    // The author holds part of this batch (it lost its tail, or another cut): the rest goes.
    const rest = (typeof first.text === 'string' ? Buffer.from(first.text, 'utf8') : first.text).subarray(from - first.offset)
    head = { ...first, offset: from, bytes: rest.length, text: typeof first.text === 'string' ? rest.toString('utf8') : rest }
  }
  const texts: LogText[] = [head.text]
  let bytes = head.bytes
  for (const row of rows.slice(index + 1)) {
    if (row.offset !== head.offset + bytes || row.attempt !== head.attempt || row.step !== head.step || bytes + row.bytes > maxBytes) break
    texts.push(row.text)
    bytes += row.bytes
  }
  return { offset: head.offset, bytes, attempt: head.attempt, step: head.step, text: joinLogText(texts), gap: head.offset > from }
}
