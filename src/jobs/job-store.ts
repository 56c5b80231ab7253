import { randomBytes } from 'node:crypto'
import { transaction, type Db } from '../store/database.js'
import { AmbiguousJobError, JobChangedError, JobNotFoundError } from './errors.js'
import type { AttemptSummary, FanoutStop, Job, JobResult, JobState, MergeRecord, RanOn } from './job.js'
import { checkTransition } from './transitions.js'

interface JobRow {
  id: string
  name: string
  repo: string
  prompt: string
  snapshot: string
  state: JobState
  reason: string | null
  builder: string | null
  test_command: string
  attempts_budget: number
  generate_timeout_ms: number
  test_timeout_ms: number
  setup: string | null
  project_timeouts: string | null
  round: number
  attempt: number
  progress: string | null
  result: string | null
  merge: string | null
  accepted_commit: string | null
  priority: number
  after: string
  owns: string
  fanout: number
  builders: string
  blocked_by: string | null
  outside_owns: string | null
  extra_builders: string
  ran_on: string | null
  stack: number
  fanout_stop: FanoutStop
  created_at: number
  updated_at: number
}

export type NewJob = Pick<Job, 'name' | 'repo' | 'prompt' | 'snapshot' | 'test' | 'attemptsBudget' | 'generateTimeoutMs' | 'testTimeoutMs'> &
  Partial<Pick<Job, 'setup' | 'projectTimeouts' | 'priority' | 'after' | 'owns' | 'fanout' | 'builders' | 'stack' | 'fanoutStop'>>

export type JobOwnership = Pick<Job, 'id' | 'name' | 'repo' | 'owns'>

/**
 * Fields that change while the job stays in its state: who holds it and how far it got, why it
 * waits, its merge record, the paths it changed outside `owns`. It cannot carry a state: every
 * state change is a `transition`.
 */
export type JobPatch = Partial<Pick<Job, 'reason' | 'builder' | 'attempt' | 'progress' | 'extraBuilders'>> & {
  merge?: MergeRecord | null
  blockedBy?: Job['blockedBy'] | null
  outsideOwns?: string[] | null
}

/**
 * Fields that change only together with the state: the result (`returned`), the accepted commit
 * (`accepted`), and everything a new round sets (src/jobs/rounds.ts).
 */
export type TransitionFields = JobPatch & Partial<Pick<Job, 'round' | 'prompt' | 'snapshot' | 'acceptedCommit' | 'priority' | 'after' | 'owns' | 'fanout' |
'builders' | 'stack' | 'fanoutStop' | 'attemptsBudget' | 'test' | 'generateTimeoutMs' | 'testTimeoutMs'>> & {
  setup?: Job['setup'] | null
  projectTimeouts?: Job['projectTimeouts'] | null
  result?: JobResult | null
  ranOn?: RanOn | null
}

/** What the caller read the job as: if it is no longer so, the transition is JobChangedError. */
export interface TransitionExpectation {
  /** The state, or one of the states, the caller decided on. */
  from?: JobState | readonly JobState[]
  /** The round the caller decided on. */
  atRound?: number
}

/** Jobs this node authored, in its database; every change of state is one checked transaction. */
export class JobStore {
  constructor (private readonly db: Db) {}

  /** A short random id: 12 hex digits, enough for a person's jobs and easy to type a prefix of. */
  static newId (): string {
    return randomBytes(6).toString('hex')
  }

  create (job: NewJob): Job {
    const now = Date.now()
    const id = JobStore.newId()
    this.db.prepare(`INSERT INTO jobs (id, name, repo, prompt, snapshot, state, test_command, attempts_budget, generate_timeout_ms, test_timeout_ms,
        setup, project_timeouts, priority, after, owns, fanout, builders, stack, fanout_stop, ran_on, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(id, job.name, job.repo, job.prompt, job.snapshot, job.test, job.attemptsBudget, job.generateTimeoutMs, job.testTimeoutMs,
        json(job.setup), json(job.projectTimeouts),
        job.priority ?? 0, JSON.stringify(job.after ?? []), JSON.stringify(job.owns ?? []), job.fanout ?? 1, JSON.stringify(job.builders ?? []),
        job.stack === true ? 1 : 0, job.fanoutStop ?? 'none', json(initialRanOn(job.after ?? [], job.snapshot)), now, now)
    return this.get(id)!
  }

  get (id: string): Job | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined
    return row === undefined ? undefined : fromRow(row)
  }

  findByName (name: string): Job | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE name = ?').get(name) as JobRow | undefined
    return row === undefined ? undefined : fromRow(row)
  }

  nameTaken (name: string): boolean {
    return this.db.prepare('SELECT 1 FROM jobs WHERE name = ?').get(name) !== undefined
  }

  /** The job named by its name, its id, or a unique prefix of either. */
  find (query: string): Job {
    // An id first, then a name: a name that looks like an id cannot shadow a real one.
    const exact = (this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(query) ?? this.db.prepare('SELECT * FROM jobs WHERE name = ?').get(query)) as JobRow | undefined
    if (exact !== undefined) return fromRow(exact)
    const like = query.replace(/[\\%_]/g, m => `\\${m}`) + '%'
    const rows = this.db.prepare("SELECT * FROM jobs WHERE name LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\' LIMIT 6").all(like, like) as JobRow[]
    if (rows.length === 0) throw new JobNotFoundError(query)
    if (rows.length > 1) throw new AmbiguousJobError(query, rows.map(row => row.name))
    return fromRow(rows[0]!)
  }

  list (): Job[] {
    return (this.db.prepare('SELECT * FROM jobs ORDER BY created_at, rowid').all() as JobRow[]).map(fromRow)
  }

  inStates (states: readonly JobState[]): Job[] {
    const marks = states.map(() => '?').join(', ')
    return (this.db.prepare(`SELECT * FROM jobs WHERE state IN (${marks}) ORDER BY created_at, rowid`).all(...states) as JobRow[]).map(fromRow)
  }

  /** Id, name, repository and globs of the jobs in `states`: what an overlap check needs, without whole rows. */
  ownership (states: readonly JobState[]): JobOwnership[] {
    const marks = states.map(() => '?').join(', ')
    const rows = this.db.prepare(`SELECT id, name, repo, owns FROM jobs WHERE state IN (${marks}) ORDER BY created_at, rowid`).all(...states) as Array<Pick<JobRow, 'id' | 'name' | 'repo' | 'owns'>>
    return rows.map(row => ({ id: row.id, name: row.name, repo: row.repo, owns: JSON.parse(row.owns) as string[] }))
  }

  /** Forgets a job with its attempts and candidates, in one transaction (`gitmesh prune`). */
  delete (id: string): void {
    transaction(this.db, () => {
      this.db.prepare('DELETE FROM job_attempts WHERE job_id = ?').run(id)
      this.db.prepare('DELETE FROM candidates WHERE job_id = ?').run(id)
      this.db.prepare('DELETE FROM jobs WHERE id = ?').run(id)
    })
  }

  /** Changes fields that leave the job in its state (see JobPatch). */
  update (id: string, patch: JobPatch): Job {
    const { columns, values } = assignments(patch)
    this.db.prepare(`UPDATE jobs SET ${columns.join(', ')} WHERE id = ?`).run(...values, id)
    const job = this.get(id)
    if (job === undefined) throw new JobNotFoundError(id)
    return job
  }

  /**
   * Moves a job to `to`, with the fields that change with it, in one transaction: refused with
   * IllegalTransitionError when the state machine (src/jobs/transitions.ts) has no such step, and
   * with JobChangedError when the job is no longer in the state or round `expected` says. The
   * row is written only if its state and round are still those that were checked
   * (compare-and-set), so a change made meanwhile is never overwritten.
   */
  transition (id: string, to: JobState, fields: TransitionFields = {}, expected: TransitionExpectation = {}): Job {
    return transaction(this.db, () => this.transitionNow(id, to, fields, expected))
  }

  /** `transition` inside a transaction the caller holds. */
  private transitionNow (id: string, to: JobState, fields: TransitionFields, expected: TransitionExpectation): Job {
    const current = this.get(id)
    if (current === undefined) throw new JobNotFoundError(id)
    const from = typeof expected.from === 'string' ? [expected.from] : expected.from
    if ((from !== undefined && !from.includes(current.state)) || (expected.atRound !== undefined && expected.atRound !== current.round)) {
      throw new JobChangedError(current, to, [from?.join(' or '), expected.atRound !== undefined ? `at round ${expected.atRound}` : undefined].filter(Boolean).join(' '))
    }
    checkTransition(current, to, fields.round ?? current.round)
    const { columns, values } = assignments(fields, { ...fields, state: to })
    const written = this.db.prepare(`UPDATE jobs SET ${columns.join(', ')} WHERE id = ? AND state = ? AND round = ?`).run(...values, id, current.state, current.round)
    if (written.changes !== 1) throw new JobChangedError(this.get(id) ?? current, to, `${current.state} at round ${current.round}`)
    return this.get(id)!
  }

  /**
   * Sets the commit a waiting job's round runs on (its dependencies are ready): written only while
   * the job is still queued or lost in `round`, so a cancel or a new round meanwhile wins. Not a
   * state change: the job stays where it waits. Returns the job, or undefined if it moved on.
   */
  setBase (id: string, round: number, ranOn: RanOn): Job | undefined {
    const written = this.db.prepare("UPDATE jobs SET snapshot = ?, ran_on = ?, updated_at = ? WHERE id = ? AND round = ? AND state IN ('queued', 'lost')")
      .run(ranOn.commit, JSON.stringify(ranOn), Date.now(), id, round)
    return written.changes === 1 ? this.get(id) : undefined
  }

  /** Jobs whose current round is stacked on a result of the job named `name`. */
  stackedOn (name: string): Job[] {
    return (this.db.prepare("SELECT * FROM jobs WHERE json_extract(ran_on, '$.kind') = 'stacked-on' AND json_extract(ran_on, '$.job') = ? ORDER BY created_at, rowid").all(name) as JobRow[]).map(fromRow)
  }

  /**
   * Stores a result of round `round` and the attempts that made it, and marks the job returned
   * (with `fields`, such as who holds it now), in one transaction.
   */
  recordResult (id: string, round: number, result: JobResult, attempts: Array<AttemptSummary & { log: string }>, fields: JobPatch = {}): Job {
    return transaction(this.db, () => {
      this.insertAttempts(id, round, attempts)
      return this.transitionNow(id, 'returned', { ...fields, result, reason: undefined, progress: undefined }, { atRound: round })
    })
  }

  /**
   * Keeps a result as a candidate of the job's round (numbered in arrival order from 1);
   * returns its number. A builder's second result for the same round replaces its first.
   */
  addCandidate (id: string, round: number, result: JobResult): number {
    return transaction(this.db, () => {
      const existing = this.db.prepare('SELECT number FROM candidates WHERE job_id = ? AND round = ? AND builder = ?').get(id, round, result.builder) as { number: number } | undefined
      const number = existing?.number ?? ((this.db.prepare('SELECT COALESCE(MAX(number), 0) AS n FROM candidates WHERE job_id = ? AND round = ?').get(id, round) as { n: number }).n + 1)
      this.db.prepare('INSERT OR REPLACE INTO candidates (job_id, round, builder, number, result) VALUES (?, ?, ?, ?, ?)').run(id, round, result.builder, number, JSON.stringify(result))
      return number
    })
  }

  /** The candidates of a job's current round, in arrival order. */
  candidates (id: string, round: number): Array<JobResult & { number: number }> {
    const rows = this.db.prepare('SELECT number, result FROM candidates WHERE job_id = ? AND round = ? ORDER BY number').all(id, round) as Array<{ number: number, result: string }>
    return rows.map(row => ({ ...(JSON.parse(row.result) as JobResult), number: row.number }))
  }

  /** Records a job that ended in round `round` without a result, with the attempts its builder reported. */
  recordFailure (id: string, round: number, reason: string, attempts: Array<AttemptSummary & { log: string }>): Job {
    return transaction(this.db, () => {
      this.insertAttempts(id, round, attempts)
      return this.transitionNow(id, 'failed', { reason, progress: undefined }, { atRound: round })
    })
  }

  private insertAttempts (id: string, round: number, attempts: Array<AttemptSummary & { log: string }>): void {
    const insert = this.db.prepare('INSERT OR REPLACE INTO job_attempts (job_id, round, number, passed, generate_ms, test_ms, log, input_tokens, output_tokens, cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
    for (const a of attempts) insert.run(id, round, a.number, a.passed ? 1 : 0, a.generateMs, a.testMs, a.log, a.inputTokens ?? null, a.outputTokens ?? null, a.costUsd ?? null)
  }

  attempts (id: string): Array<AttemptSummary & { log: string }> {
    const rows = this.db.prepare('SELECT * FROM job_attempts WHERE job_id = ? ORDER BY round, number').all(id) as Array<{ round: number, number: number, passed: number, generate_ms: number, test_ms: number, log: string, input_tokens: number | null, output_tokens: number | null, cost_usd: number | null }>
    return rows.map(row => ({
      round: row.round,
      number: row.number,
      passed: row.passed === 1,
      generateMs: row.generate_ms,
      testMs: row.test_ms,
      ms: row.generate_ms + row.test_ms,
      log: row.log,
      ...(row.input_tokens !== null ? { inputTokens: row.input_tokens } : {}),
      ...(row.output_tokens !== null ? { outputTokens: row.output_tokens } : {}),
      ...(row.cost_usd !== null ? { costUsd: row.cost_usd } : {})
    }))
  }
}

/**
 * The SQL assignments of a patch, and `updated_at`. Only a transition passes `state` and the
 * fields that go with one: a plain update's patch is read for JobPatch's fields alone, so not
 * even an untyped caller can change a state through it.
 */
/** A value as a JSON column: null stays SQL NULL. */
function json (value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value)
}

function assignments (patch: JobPatch, transition?: TransitionFields & { state: JobState }): { columns: string[], values: unknown[] } {
  const columns: string[] = []
  const values: unknown[] = []
  const set = (column: string, value: unknown): void => { columns.push(`${column} = ?`); values.push(value) }
  if ('reason' in patch) set('reason', patch.reason ?? null)
  if ('builder' in patch) set('builder', patch.builder ?? null)
  if (patch.attempt !== undefined) set('attempt', patch.attempt)
  if ('progress' in patch) set('progress', patch.progress ?? null)
  if (patch.extraBuilders !== undefined) set('extra_builders', JSON.stringify(patch.extraBuilders))
  if ('blockedBy' in patch) set('blocked_by', json(patch.blockedBy))
  if ('outsideOwns' in patch) set('outside_owns', json(patch.outsideOwns))
  if ('merge' in patch) set('merge', json(patch.merge))
  if (transition !== undefined) {
    set('state', transition.state)
    if (transition.round !== undefined) set('round', transition.round)
    if (transition.prompt !== undefined) set('prompt', transition.prompt)
    if (transition.snapshot !== undefined) set('snapshot', transition.snapshot)
    if ('acceptedCommit' in transition) set('accepted_commit', transition.acceptedCommit ?? null)
    if (transition.priority !== undefined) set('priority', transition.priority)
    if (transition.after !== undefined) set('after', JSON.stringify(transition.after))
    if (transition.owns !== undefined) set('owns', JSON.stringify(transition.owns))
    if (transition.fanout !== undefined) set('fanout', transition.fanout)
    if (transition.builders !== undefined) set('builders', JSON.stringify(transition.builders))
    if (transition.stack !== undefined) set('stack', transition.stack ? 1 : 0)
    if (transition.fanoutStop !== undefined) set('fanout_stop', transition.fanoutStop)
    if ('ranOn' in transition) set('ran_on', json(transition.ranOn))
    if (transition.test !== undefined) set('test_command', transition.test)
    if (transition.attemptsBudget !== undefined) set('attempts_budget', transition.attemptsBudget)
    if (transition.generateTimeoutMs !== undefined) set('generate_timeout_ms', transition.generateTimeoutMs)
    if (transition.testTimeoutMs !== undefined) set('test_timeout_ms', transition.testTimeoutMs)
    if ('setup' in transition) set('setup', json(transition.setup))
    if ('projectTimeouts' in transition) set('project_timeouts', json(transition.projectTimeouts))
    if ('result' in transition) set('result', json(transition.result))
  }
  set('updated_at', Date.now())
  return { columns, values }
}

/**
 * The commit a new job (or round) runs on: its snapshot, unless it waits for dependencies; then
 * it is set when they are ready (Scheduler, `setBase`).
 */
export function initialRanOn (after: readonly string[], snapshot: string): RanOn | undefined {
  return after.length === 0 ? { kind: 'snapshot', commit: snapshot } : undefined
}

function fromRow (row: JobRow): Job {
  return {
    id: row.id,
    name: row.name,
    repo: row.repo,
    prompt: row.prompt,
    snapshot: row.snapshot,
    state: row.state,
    reason: row.reason ?? undefined,
    builder: row.builder ?? undefined,
    test: row.test_command,
    attemptsBudget: row.attempts_budget,
    generateTimeoutMs: row.generate_timeout_ms,
    testTimeoutMs: row.test_timeout_ms,
    setup: row.setup === null ? undefined : JSON.parse(row.setup) as Job['setup'],
    projectTimeouts: row.project_timeouts === null ? undefined : JSON.parse(row.project_timeouts) as Job['projectTimeouts'],
    round: row.round,
    attempt: row.attempt,
    progress: row.progress ?? undefined,
    result: row.result === null ? undefined : JSON.parse(row.result) as JobResult,
    merge: row.merge === null ? undefined : JSON.parse(row.merge) as MergeRecord,
    acceptedCommit: row.accepted_commit ?? undefined,
    priority: row.priority,
    after: JSON.parse(row.after) as string[],
    owns: JSON.parse(row.owns) as string[],
    fanout: row.fanout,
    builders: JSON.parse(row.builders) as string[],
    extraBuilders: JSON.parse(row.extra_builders) as string[],
    stack: row.stack === 1,
    fanoutStop: row.fanout_stop,
    ranOn: row.ran_on === null ? undefined : JSON.parse(row.ran_on) as RanOn ?? undefined,
    blockedBy: row.blocked_by === null ? undefined : JSON.parse(row.blocked_by) as Job['blockedBy'],
    outsideOwns: row.outside_owns === null ? undefined : JSON.parse(row.outside_owns) as string[],
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }
}
