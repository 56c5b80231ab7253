import { transaction, type Db } from '../store/database.js'
import { Statements } from './statements.js'
import type { LogStep } from '../jobs/messages.js'
import { MAX_SPOOL_BYTES } from './constants.js'

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
  text: string
}

/**
 * A builder's live output that its author has not taken yet, per job round, in the node's
 * database: what an author that was away (asleep, restarting) gets when it is back. Offsets count
 * bytes of UTF-8 from the round's start and keep counting across a builder restart (the round then
 * runs again and its output continues the same stream). Bounded per round: past `maxBytes` the
 * oldest chunks go, and the author is told of the gap.
 */
export class LogSpool {
  constructor (private readonly db: Db, private readonly maxBytes = MAX_SPOOL_BYTES) {
    this.sql = new Statements(db)
  }

  private readonly sql: Statements

  /** Stores a batch at the end of its stream; returns its offset. Three statements, one commit. */
  append (key: StreamKey, attempt: number, step: LogStep, text: string): number {
    const bytes = Buffer.byteLength(text, 'utf8')
    return transaction(this.db, () => {
      const { next_offset: end } = this.sql.get(`INSERT INTO spool_streams (author, job_id, round, next_offset, acked, ended) VALUES (?, ?, ?, ?, 0, 0)
        ON CONFLICT DO UPDATE SET next_offset = next_offset + excluded.next_offset, ended = 0 RETURNING next_offset`)
        .get(key.author, key.job, key.round, bytes) as { next_offset: number }
      const offset = end - bytes
      this.sql.get('INSERT INTO spool_chunks (author, job_id, round, offset, bytes, attempt, step, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(key.author, key.job, key.round, offset, bytes, attempt, step, text)
      // At most `maxBytes` of a stream stay: every batch that ends before the cut point goes.
      if (end > this.maxBytes) {
        this.sql.get('DELETE FROM spool_chunks WHERE author = ? AND job_id = ? AND round = ? AND offset + bytes <= ?')
          .run(key.author, key.job, key.round, end - this.maxBytes)
      }
      return offset
    })
  }

  /**
   * What to send to an author that holds the stream up to `from`: the stored batches from that
   * offset on (the first cut to start there), joined while they follow each other and belong to
   * the same step of the same attempt, up to `maxBytes` — a backlog goes out in few messages.
   * When the builder no longer has the bytes at `from`, it starts at the first it has, with `gap`.
   */
  next (key: StreamKey, from: number, maxBytes = Number.POSITIVE_INFINITY): (SpooledChunk & { gap: boolean }) | undefined {
    const first = this.sql.get(`SELECT offset, bytes, attempt, step, text FROM spool_chunks
      WHERE author = ? AND job_id = ? AND round = ? AND offset + bytes > ? ORDER BY offset LIMIT 1`)
      .get(key.author, key.job, key.round, from) as SpooledChunk | undefined
    if (first === undefined) return undefined
    // Only the batches that can join it are read: those starting within `maxBytes` of it.
    const rows = [first, ...this.sql.get(`SELECT offset, bytes, attempt, step, text FROM spool_chunks
      WHERE author = ? AND job_id = ? AND round = ? AND offset > ? AND offset < ? ORDER BY offset`)
      .all(key.author, key.job, key.round, first.offset, first.offset + Math.min(maxBytes, Number.MAX_SAFE_INTEGER / 2)) as SpooledChunk[]]
    let head = first
    if (first.offset < from) {
      // The author holds part of this batch (it lost its tail, or another cut): the rest goes.
      const rest = Buffer.from(first.text, 'utf8').subarray(from - first.offset)
      head = { ...first, offset: from, bytes: rest.length, text: rest.toString('utf8') }
    }
    const texts = [head.text]
    let bytes = head.bytes
    for (const row of rows.slice(1)) {
      if (row.offset !== head.offset + bytes || row.attempt !== head.attempt || row.step !== head.step || bytes + row.bytes > maxBytes) break
      texts.push(row.text)
      bytes += row.bytes
    }
    return { offset: head.offset, bytes, attempt: head.attempt, step: head.step, text: texts.join(''), gap: head.offset > from }
  }

  /** The author holds the stream up to `offset`: what lies before it is no longer kept here. */
  acked (key: StreamKey, offset: number): void {
    transaction(this.db, () => {
      this.sql.get('UPDATE spool_streams SET acked = ? WHERE author = ? AND job_id = ? AND round = ?').run(offset, key.author, key.job, key.round)
      this.sql.get('DELETE FROM spool_chunks WHERE author = ? AND job_id = ? AND round = ? AND offset + bytes <= ?').run(key.author, key.job, key.round, offset)
      this.forgetDelivered(key)
    })
  }

  /** The round's commands are over: once the author has it all, the stream is forgotten. */
  end (key: StreamKey): void {
    transaction(this.db, () => {
      this.sql.get('UPDATE spool_streams SET ended = 1 WHERE author = ? AND job_id = ? AND round = ?').run(key.author, key.job, key.round)
      this.forgetDelivered(key)
    })
  }

  private forgetDelivered (key: StreamKey): void {
    this.sql.get('DELETE FROM spool_streams WHERE author = ? AND job_id = ? AND round = ? AND ended = 1 AND acked >= next_offset')
      .run(key.author, key.job, key.round)
  }

  /** Where the author was last known to stand (0 for a new stream). */
  acknowledged (key: StreamKey): number {
    const row = this.sql.get('SELECT acked FROM spool_streams WHERE author = ? AND job_id = ? AND round = ?').get(key.author, key.job, key.round) as { acked: number } | undefined
    return row?.acked ?? 0
  }

  /** True when the author has everything stored so far. */
  delivered (key: StreamKey): boolean {
    const row = this.sql.get('SELECT acked, next_offset FROM spool_streams WHERE author = ? AND job_id = ? AND round = ?').get(key.author, key.job, key.round) as { acked: number, next_offset: number } | undefined
    return row === undefined || row.acked >= row.next_offset
  }

  /** Streams with output their author has not taken yet. */
  undelivered (): StreamKey[] {
    const rows = this.sql.get('SELECT author, job_id, round FROM spool_streams WHERE acked < next_offset').all() as Array<{ author: string, job_id: string, round: number }>
    return rows.map(row => ({ author: row.author, job: row.job_id, round: row.round }))
  }

  /** Forgets a stream (its author does not take logs, or no longer has the job). */
  drop (key: StreamKey): void {
    transaction(this.db, () => {
      this.sql.get('DELETE FROM spool_chunks WHERE author = ? AND job_id = ? AND round = ?').run(key.author, key.job, key.round)
      this.sql.get('DELETE FROM spool_streams WHERE author = ? AND job_id = ? AND round = ?').run(key.author, key.job, key.round)
    })
  }
}
