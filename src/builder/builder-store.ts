import { transaction, type Db } from '../store/database.js'
import type { JobSpec, ResultAnnouncement } from '../jobs/messages.js'
import { orderedResult } from '../jobs/signing.js'

export const BUILDER_JOB_STATES = ['queued', 'fetching', 'setup', 'generating', 'testing', 'done', 'cancelled'] as const
export type BuilderJobState = typeof BUILDER_JOB_STATES[number]

/** A job as the builder keeps it: the author's spec, where it is, and its signed result. */
export interface BuilderJob {
  author: string
  spec: Omit<JobSpec, 'snapshot'> & { snapshot: string }
  state: BuilderJobState
  attempt: number
  result?: ResultAnnouncement
  acked: boolean
  createdAt: number
  updatedAt: number
}

interface Row {
  author: string
  id: string
  round: number
  name: string
  spec: string
  state: BuilderJobState
  attempt: number
  result: string | null
  acked: number
  created_at: number
  updated_at: number
}

/** Results are stored as JSON; byte fields travel as base64. */
function resultToJson (result: ResultAnnouncement): string {
  return JSON.stringify({
    ...result,
    commit: result.commit === undefined ? undefined : Buffer.from(result.commit).toString('base64'),
    signature: Buffer.from(result.signature).toString('base64')
  })
}

function resultFromJson (text: string): ResultAnnouncement {
  const value = JSON.parse(text) as Record<string, unknown>
  const { commit, signature, ...rest } = value
  // A result without a commit has no `commit` key at all, and the keys keep their wire order,
  // so a re-announcement sends the same bytes as the first time.
  return orderedResult({
    ...rest,
    ...(typeof commit === 'string' ? { commit: Uint8Array.from(Buffer.from(commit, 'base64')) } : {}),
    signature: Uint8Array.from(Buffer.from(signature as string, 'base64'))
  } as ResultAnnouncement)
}

/** The builder's jobs and its outbox of results not yet acknowledged, in the node's database. */
export class BuilderStore {
  constructor (private readonly db: Db) {}

  /** Adds or replaces a job (a re-offer of the same job starts it over). */
  put (author: string, spec: BuilderJob['spec']): BuilderJob {
    const now = Date.now()
    this.db.prepare(`INSERT INTO builder_jobs (author, id, round, name, spec, state, attempt, result, acked, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, 'queued', 0, NULL, 0, ?, ?)
      ON CONFLICT (author, id) DO UPDATE SET round = excluded.round, name = excluded.name, spec = excluded.spec, state = 'queued',
        attempt = 0, result = NULL, acked = 0, updated_at = excluded.updated_at`)
      .run(author, spec.id, spec.round, spec.name, JSON.stringify(spec), now, now)
    return this.get(author, spec.id)!
  }

  get (author: string, id: string): BuilderJob | undefined {
    const row = this.db.prepare('SELECT * FROM builder_jobs WHERE author = ? AND id = ?').get(author, id) as Row | undefined
    return row === undefined ? undefined : fromRow(row)
  }

  inStates (states: readonly BuilderJobState[]): BuilderJob[] {
    const marks = states.map(() => '?').join(', ')
    return (this.db.prepare(`SELECT * FROM builder_jobs WHERE state IN (${marks}) ORDER BY created_at`).all(...states) as Row[]).map(fromRow)
  }

  setState (author: string, id: string, state: BuilderJobState, attempt?: number): void {
    this.db.prepare('UPDATE builder_jobs SET state = ?, attempt = COALESCE(?, attempt), updated_at = ? WHERE author = ? AND id = ?')
      .run(state, attempt ?? null, Date.now(), author, id)
  }

  /** Stores the signed result in the outbox and marks the job done, together. */
  saveResult (author: string, id: string, result: ResultAnnouncement): void {
    transaction(this.db, () => {
      this.db.prepare("UPDATE builder_jobs SET state = 'done', result = ?, acked = 0, updated_at = ? WHERE author = ? AND id = ?")
        .run(resultToJson(result), Date.now(), author, id)
    })
  }

  /** Results waiting for their author's acknowledgement. */
  outbox (): BuilderJob[] {
    return (this.db.prepare("SELECT * FROM builder_jobs WHERE state = 'done' AND acked = 0 ORDER BY updated_at").all() as Row[]).map(fromRow)
  }

  /** Records (or clears, with null) the process group of the command a job is running. */
  setProcessGroup (author: string, id: string, pgid: number | null): void {
    this.db.prepare('UPDATE builder_jobs SET pgid = ? WHERE author = ? AND id = ?').run(pgid, author, id)
  }

  /** Jobs that had a command running when the node last stopped: [author, id, pgid]. */
  processGroups (): Array<{ author: string, id: string, pgid: number }> {
    return this.db.prepare('SELECT author, id, pgid FROM builder_jobs WHERE pgid IS NOT NULL').all() as Array<{ author: string, id: string, pgid: number }>
  }

  markUnacked (author: string, id: string): void {
    this.db.prepare('UPDATE builder_jobs SET acked = 0, updated_at = ? WHERE author = ? AND id = ?').run(Date.now(), author, id)
  }

  markAcked (author: string, id: string, round: number): void {
    this.db.prepare('UPDATE builder_jobs SET acked = 1, updated_at = ? WHERE author = ? AND id = ? AND round = ?').run(Date.now(), author, id, round)
  }

  /**
   * Forgets jobs that are over here and whose last change is before `before` (ms since the
   * epoch): results the author acknowledged, and cancelled jobs. Returns them (`gitmesh prune`);
   * `dryRun` only lists them.
   */
  pruneFinished (before: number, dryRun = false): Array<Pick<BuilderJob, 'author' | 'state' | 'updatedAt'> & { id: string, name: string }> {
    const finished = "((state = 'done' AND acked = 1) OR state = 'cancelled') AND updated_at < ?"
    const rows = this.db.prepare(`SELECT author, id, name, state, updated_at FROM builder_jobs WHERE ${finished} ORDER BY updated_at`).all(before) as Array<Pick<Row, 'author' | 'id' | 'name' | 'state' | 'updated_at'>>
    if (!dryRun) {
      transaction(this.db, () => {
        // Their live output that no author took (src/logs/spool.ts) goes with them: nobody will.
        for (const table of ['spool_chunks', 'spool_streams']) {
          this.db.prepare(`DELETE FROM ${table} WHERE (author, job_id) IN (SELECT author, id FROM builder_jobs WHERE ${finished})`).run(before)
        }
        this.db.prepare(`DELETE FROM builder_jobs WHERE ${finished}`).run(before)
      })
    }
    return rows.map(row => ({ author: row.author, id: row.id, name: row.name, state: row.state, updatedAt: row.updated_at }))
  }

  counts (): { running: number, queued: number } {
    const rows = this.db.prepare("SELECT state, COUNT(*) AS n FROM builder_jobs WHERE state IN ('queued', 'fetching', 'setup', 'generating', 'testing') GROUP BY state").all() as Array<{ state: string, n: number }>
    let running = 0
    let queued = 0
    for (const row of rows) {
      if (row.state === 'queued') queued += row.n
      else running += row.n
    }
    return { running, queued }
  }
}

function fromRow (row: Row): BuilderJob {
  return {
    author: row.author,
    spec: JSON.parse(row.spec) as BuilderJob['spec'],
    state: row.state,
    attempt: row.attempt,
    result: row.result === null ? undefined : resultFromJson(row.result),
    acked: row.acked === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }
}
