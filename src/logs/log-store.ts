import { transaction, type Db } from '../store/database.js'
import { Statements } from './statements.js'
import type { LogBatch, LogStep } from '../jobs/messages.js'
import { MAX_ATTEMPT_LIVE_LOG_BYTES } from './constants.js'

/** A piece of a job's live output as the author keeps it; `seq` orders every chunk it holds. */
export interface LogChunk {
  seq: number
  round: number
  builder: string
  attempt: number
  step: LogStep
  text: string
  /** Author's clock when it arrived (ms since the epoch). */
  at: number
}

/** What an author does with a batch, given where its stream stands (`held`). */
export interface Placement {
  /** Bytes of the batch's text to skip (already held), or null to take nothing. */
  skip: number | null
  /** Bytes the builder no longer had, lost between `held` and the batch (`gap`). */
  lost: number
  /** Where the stream stands afterwards. */
  held: number
}

/**
 * The offset bookkeeping of one stream: a batch that starts where the author stands is taken; one
 * it already holds (a resend) is not taken again, or only its new tail; one that starts past it is
 * a gap: refused (the reply's offset makes the builder resend from there), unless the builder says
 * it no longer has those bytes (`gap`), when it is taken and the loss recorded.
 */
export function placeBatch (held: number, offset: number, bytes: number, gap: boolean): Placement {
  const end = offset + bytes
  if (offset === held) return { skip: 0, lost: 0, held: end }
  if (offset < held) return end <= held ? { skip: null, lost: 0, held } : { skip: held - offset, lost: 0, held: end }
  return gap ? { skip: 0, lost: offset - held, held: end } : { skip: null, lost: 0, held }
}

export interface ReadOptions {
  round: number
  attempt?: number
  /** Only chunks after this `seq`. */
  from?: number
  /** Stop adding chunks once this much text is gathered (at least one chunk is returned). */
  maxBytes: number
}

interface ChunkRow { seq: number, round: number, builder: string, attempt: number, step: LogStep, text: string, at: number, bytes: number }

/** Rows a read looks at in one query; a page ends early past them and the caller asks again. */
const READ_ROWS = 1000

/**
 * The author's live logs: every job round's output as its builders streamed it, per builder
 * (fan-out), in the node's database, apart from the job record. Bounded per attempt: past
 * `maxAttemptBytes` the attempt's oldest chunks are dropped and the drop counted, so `logs` says
 * what is missing. Old rounds stay until the job is removed (`deleteJobLogs`).
 */
export class LogStore {
  constructor (private readonly db: Db, private readonly maxAttemptBytes = MAX_ATTEMPT_LIVE_LOG_BYTES) {
    this.sql = new Statements(db)
  }

  private readonly sql: Statements

  /** Where a builder's stream of a job round stands: the bytes the author holds (or dropped). */
  held (job: string, round: number, builder: string): number {
    const row = this.sql.get('SELECT held FROM log_streams WHERE job_id = ? AND round = ? AND builder = ?').get(job, round, builder) as { held: number } | undefined
    return row?.held ?? 0
  }

  /** Takes a batch from `builder` (see placeBatch); returns where its stream stands and the chunk stored, if any. */
  take (builder: string, batch: LogBatch): { held: number, chunk?: LogChunk } {
    return transaction(this.db, () => {
      const held = this.held(batch.job, batch.round, builder)
      const bytes = Buffer.byteLength(batch.text, 'utf8')
      const placed = placeBatch(held, batch.offset, bytes, batch.gap === true)
      if (placed.skip === null) return { held: placed.held }
      const text = placed.skip === 0 ? batch.text : Buffer.from(batch.text, 'utf8').subarray(placed.skip).toString('utf8')
      const taken = bytes - placed.skip
      const at = Date.now()
      const { lastInsertRowid } = this.sql.get('INSERT INTO log_chunks (job_id, round, builder, attempt, step, offset, bytes, text, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(batch.job, batch.round, builder, batch.attempt, batch.step, batch.offset + placed.skip, taken, text, at)
      this.sql.get('INSERT INTO log_streams (job_id, round, builder, held) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET held = excluded.held')
        .run(batch.job, batch.round, builder, placed.held)
      this.sql.get(`INSERT INTO log_attempts (job_id, round, attempt, bytes, dropped) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT DO UPDATE SET bytes = bytes + excluded.bytes, dropped = dropped + excluded.dropped`)
        .run(batch.job, batch.round, batch.attempt, taken, placed.lost)
      this.bound(batch.job, batch.round, batch.attempt)
      return { held: placed.held, chunk: { seq: Number(lastInsertRowid), round: batch.round, builder, attempt: batch.attempt, step: batch.step, text, at } }
    })
  }

  /** Drops an attempt's oldest chunks while it holds more than `maxAttemptBytes`. */
  private bound (job: string, round: number, attempt: number): void {
    const { bytes } = this.sql.get('SELECT bytes FROM log_attempts WHERE job_id = ? AND round = ? AND attempt = ?').get(job, round, attempt) as { bytes: number }
    let over = bytes - this.maxAttemptBytes
    if (over <= 0) return
    const oldest = this.sql.get('SELECT seq, bytes FROM log_chunks WHERE job_id = ? AND round = ? AND attempt = ? ORDER BY seq LIMIT 256').all(job, round, attempt) as Array<{ seq: number, bytes: number }>
    let dropped = 0
    let last = -1
    for (const chunk of oldest) {
      if (over <= 0) break
      over -= chunk.bytes
      dropped += chunk.bytes
      last = chunk.seq
    }
    if (last < 0) return
    this.sql.get('DELETE FROM log_chunks WHERE job_id = ? AND round = ? AND attempt = ? AND seq <= ?').run(job, round, attempt, last)
    this.sql.get('UPDATE log_attempts SET bytes = bytes - ?, dropped = dropped + ? WHERE job_id = ? AND round = ? AND attempt = ?').run(dropped, dropped, job, round, attempt)
  }

  /** Chunks of a job round in arrival order, from a cursor, up to about `maxBytes`; `next` is the cursor to go on from. */
  read (job: string, options: ReadOptions): { chunks: LogChunk[], next: number, more: boolean } {
    const from = options.from ?? 0
    const rows = (options.attempt === undefined
      ? this.sql.get('SELECT * FROM log_chunks WHERE job_id = ? AND round = ? AND seq > ? ORDER BY seq LIMIT ?').all(job, options.round, from, READ_ROWS)
      : this.sql.get('SELECT * FROM log_chunks WHERE job_id = ? AND round = ? AND attempt = ? AND seq > ? ORDER BY seq LIMIT ?').all(job, options.round, options.attempt, from, READ_ROWS)) as ChunkRow[]
    const chunks: LogChunk[] = []
    let size = 0
    for (const row of rows) {
      if (chunks.length > 0 && size + row.bytes > options.maxBytes) break
      chunks.push(toChunk(row))
      size += row.bytes
    }
    return { chunks, next: chunks.at(-1)?.seq ?? from, more: chunks.length < rows.length || rows.length === READ_ROWS }
  }

  /** The latest `seq` of any chunk (0 when there is none): where a follower starting now stands. */
  lastSeq (): number {
    const row = this.sql.get('SELECT MAX(seq) AS seq FROM log_chunks').get() as { seq: number | null }
    return row.seq ?? 0
  }

  /** The last `lines` lines of a round's latest attempt that has output (of `attempt`, if given). */
  tail (job: string, round: number, lines: number, attempt?: number): { attempt: number, lines: string[] } | undefined {
    const latest = attempt ?? (this.sql.get('SELECT attempt FROM log_chunks WHERE job_id = ? AND round = ? ORDER BY seq DESC LIMIT 1').get(job, round) as { attempt: number } | undefined)?.attempt
    if (latest === undefined) return undefined
    const texts: string[] = []
    let newlines = 0
    for (const row of this.sql.get('SELECT text FROM log_chunks WHERE job_id = ? AND round = ? AND attempt = ? ORDER BY seq DESC').iterate(job, round, latest) as IterableIterator<{ text: string }>) {
      texts.unshift(row.text)
      newlines += row.text.split('\n').length - 1
      if (newlines > lines) break
    }
    const all = texts.join('').replace(/\n$/, '').split('\n')
    return { attempt: latest, lines: all.slice(-lines) }
  }

  /** Removes every live log of a job, every round (`gitmesh prune`). */
  deleteJob (job: string): void {
    deleteJobLogs(this.db, job)
  }

  /** Bytes each attempt of a round lost: dropped past the bound, or gone on the builder before they arrived. */
  dropped (job: string, round: number): Array<{ attempt: number, bytes: number }> {
    return this.sql.get('SELECT attempt, dropped AS bytes FROM log_attempts WHERE job_id = ? AND round = ? AND dropped > 0 ORDER BY attempt').all(job, round) as Array<{ attempt: number, bytes: number }>
  }
}

function toChunk (row: ChunkRow): LogChunk {
  return { seq: row.seq, round: row.round, builder: row.builder, attempt: row.attempt, step: row.step, text: row.text, at: row.at }
}

/** Removes every live log of a job, every round (for `prune` and anything else that deletes a job). */
export function deleteJobLogs (db: Db, job: string): void {
  transaction(db, () => {
    db.prepare('DELETE FROM log_chunks WHERE job_id = ?').run(job)
    db.prepare('DELETE FROM log_streams WHERE job_id = ?').run(job)
    db.prepare('DELETE FROM log_attempts WHERE job_id = ?').run(job)
  })
}
