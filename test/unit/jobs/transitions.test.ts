import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type Db } from '../../../src/store/database.js'
import { JobStore, type NewJob } from '../../../src/jobs/job-store.js'
import { JOB_STATES, type Job, type JobState } from '../../../src/jobs/job.js'
import { canTransition, checkTransition, TRANSITIONS } from '../../../src/jobs/transitions.js'
import { IllegalTransitionError, JobChangedError, JobStateError } from '../../../src/jobs/errors.js'

// The state machine as docs/architecture.md ("Job states") draws it, written out here apart from
// src/jobs/transitions.ts so that a change to the table has to change this list too.
const RUNNING = ['offered', 'fetching', 'setup', 'generating', 'testing'] as const
const ALLOWED: ReadonlyArray<[JobState, JobState]> = [
  ['queued', 'offered'], ['queued', 'failed'], ['queued', 'cancelled'], ['queued', 'returned'],
  ...RUNNING.flatMap(from => [
    ...RUNNING.filter(to => to !== from).map(to => [from, to] as [JobState, JobState]),
    ...(['queued', 'lost', 'cancelled', 'failed', 'returned'] as const).map(to => [from, to] as [JobState, JobState])
  ]),
  ['lost', 'offered'], ['lost', 'failed'], ['lost', 'cancelled'], ['lost', 'returned'],
  ['returned', 'merged'], ['returned', 'rejected'],
  ['merged', 'accepted'], ['merged', 'rejected']
]
const allowed = (from: JobState, to: JobState): boolean => ALLOWED.some(([f, t]) => f === from && t === to)
const PAIRS: Array<[JobState, JobState]> = JOB_STATES.flatMap(from => JOB_STATES.map(to => [from, to] as [JobState, JobState]))

const S = 'f84745714ca429ce143f68047fc084fc5cb6f135'
const B = '8dbd366d17fc6a39ae29edb61afcefcea943301f'
const BUILDER = '12D3KooWHqdeSGb77juDqkWf9US9vLSUSfFjKqZ1Ek3494iqxkM6'

let dir: string
let db: Db
let store: JobStore

// One database for the file (each case makes its own job): 300 cases do not open 300 databases.
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-transitions-'))
  db = openDatabase(path.join(dir, 'gitmesh.db'))
  store = new JobStore(db)
})

afterAll(async () => {
  db.close()
  await rm(dir, { recursive: true, force: true })
})

let made = 0
function newJob (): NewJob {
  return { name: `job-${++made}`, repo: '/home/dev/shop', prompt: 'a prompt', snapshot: S, test: 'npm test', attemptsBudget: 3, generateTimeoutMs: 600_000, testTimeoutMs: 300_000 }
}

/** How a new job reaches each state, by allowed steps only. */
const PATH: Record<JobState, JobState[]> = {
  queued: [],
  offered: ['offered'],
  fetching: ['offered', 'fetching'],
  setup: ['offered', 'setup'],
  generating: ['offered', 'generating'],
  testing: ['offered', 'testing'],
  lost: ['offered', 'lost'],
  returned: ['returned'],
  merged: ['returned', 'merged'],
  accepted: ['returned', 'merged', 'accepted'],
  rejected: ['returned', 'rejected'],
  failed: ['failed'],
  cancelled: ['cancelled']
}

/** A job in the real store, brought to `state` through the store's own transitions. */
function jobIn (state: JobState): Job {
  let job = store.create(newJob())
  for (const step of PATH[state]) job = store.transition(job.id, step, step === 'offered' ? { builder: BUILDER } : {})
  expect(job.state).toBe(state)
  return job
}

function errorOf (action: () => unknown): Error {
  try {
    action()
  } catch (err) {
    return err as Error
  }
  throw new Error('expected an error')
}

describe('the transition table', () => {
  it('lists every state, and only known states', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...JOB_STATES].sort())
    for (const targets of Object.values(TRANSITIONS)) for (const to of targets) expect(JOB_STATES).toContain(to)
  })

  it('never lists a state as a step to itself (only a new round goes from queued to queued)', () => {
    for (const state of JOB_STATES) expect(canTransition(state, state), state).toBe(false)
  })

  it.each(PAIRS)('%s → %s within a round: allowed exactly when the documented table says so', (from, to) => {
    expect(canTransition(from, to)).toBe(allowed(from, to))
    const job = { id: 'aaaa11112222', name: 'a-job', state: from, round: 2 }
    if (allowed(from, to)) {
      expect(() => { checkTransition(job, to) }).not.toThrow()
    } else {
      const err = errorOf(() => { checkTransition(job, to) })
      expect(err).toBeInstanceOf(IllegalTransitionError)
      expect(err.name).toBe('IllegalTransitionError')
    }
  })

  it.each(PAIRS)('%s → %s as a new round: allowed exactly when the target is queued', (from, to) => {
    const job = { id: 'aaaa11112222', name: 'a-job', state: from, round: 2 }
    if (to === 'queued') expect(() => { checkTransition(job, to, 3) }).not.toThrow()
    else expect(errorOf(() => { checkTransition(job, to, 3) }).name).toBe('IllegalTransitionError')
    // A round is never skipped nor gone back to.
    for (const round of [1, 4]) expect(errorOf(() => { checkTransition(job, to, round) }).name).toBe('IllegalTransitionError')
  })
})

describe('JobStore.transition in the real database', () => {
  it.each(PAIRS)('%s → %s: done when allowed, otherwise IllegalTransitionError and the row unchanged', (from, to) => {
    const job = jobIn(from)
    if (allowed(from, to)) {
      const moved = store.transition(job.id, to, { reason: 'moved' }, { from, atRound: 1 })
      expect(moved).toMatchObject({ state: to, round: 1, reason: 'moved' })
      expect(store.get(job.id)).toEqual(moved)
      return
    }
    const err = errorOf(() => store.transition(job.id, to, { reason: 'moved' }))
    expect(err).toBeInstanceOf(IllegalTransitionError)
    expect(err).toBeInstanceOf(JobStateError)
    expect(err.name).toBe('IllegalTransitionError')
    expect(err).toMatchObject({ job: job.id, from, to })
    expect(err.message).toContain(job.name)
    expect(err.message).toContain(`from ${from} to ${to}`)
    expect(store.get(job.id)).toEqual(job)
  })

  it.each(JOB_STATES)('a new round starts from %s: queued at round + 1, and only at round + 1', (from) => {
    const job = jobIn(from)
    expect(errorOf(() => store.transition(job.id, 'queued', { round: 3 })).name).toBe('IllegalTransitionError')
    expect(errorOf(() => store.transition(job.id, 'offered', { round: 2 })).name).toBe('IllegalTransitionError')
    expect(store.get(job.id)).toEqual(job)
    const next = store.transition(job.id, 'queued', { round: 2, prompt: 'a new prompt', snapshot: B }, { from, atRound: 1 })
    expect(next).toMatchObject({ state: 'queued', round: 2, prompt: 'a new prompt', snapshot: B })
  })

  it('a plain update cannot change the state, even when asked to by an untyped caller', () => {
    const job = jobIn('generating')
    // @ts-expect-error JobPatch has no state
    const updated = store.update(job.id, { state: 'accepted', round: 7, progress: 'attempt 1/3: generating' })
    expect(updated).toMatchObject({ state: 'generating', round: 1, progress: 'attempt 1/3: generating' })
  })
})

describe('compare-and-set', () => {
  it('a transition expecting another state is JobChangedError and changes nothing', () => {
    const job = jobIn('queued')
    store.transition(job.id, 'offered', { builder: BUILDER })
    const seen = store.get(job.id)!
    // Decided on the job as it was (queued): cancelling it now would overwrite the placement.
    const err = errorOf(() => store.transition(job.id, 'cancelled', { reason: 'cancelled by the author' }, { from: 'queued' }))
    expect(err).toBeInstanceOf(JobChangedError)
    expect(err.name).toBe('JobChangedError')
    expect(err).toMatchObject({ job: job.id, from: 'offered', to: 'cancelled' })
    expect(store.get(job.id)).toEqual(seen)
    // One of several expected states is enough.
    expect(store.transition(job.id, 'cancelled', {}, { from: ['queued', 'offered'] }).state).toBe('cancelled')
  })

  it('a transition expecting another round is JobChangedError and changes nothing', () => {
    const job = jobIn('returned')
    store.transition(job.id, 'queued', { round: 2, result: null })
    const seen = store.get(job.id)!
    // A rejection of round 1's result must not start a third round over the second.
    expect(errorOf(() => store.transition(job.id, 'queued', { round: 3 }, { from: 'queued', atRound: 1 })).name).toBe('JobChangedError')
    expect(errorOf(() => store.transition(job.id, 'offered', { builder: BUILDER }, { atRound: 1 })).name).toBe('JobChangedError')
    expect(store.get(job.id)).toEqual(seen)
  })

  it('two connections to one database: the second writer is checked against the first one\'s change', () => {
    const job = jobIn('queued')
    const otherDb = openDatabase(path.join(dir, 'gitmesh.db'))
    try {
      const other = new JobStore(otherDb)
      const seenByOther = other.get(job.id)!
      expect(seenByOther.state).toBe('queued')
      store.transition(job.id, 'returned', { result: { commit: B, passed: true, builder: BUILDER, summary: 'ok', committedAt: 1, receivedAt: 2, receipt: 'cg==' } })
      // The other connection decided on `queued`: its placement is refused, the result stays.
      expect(errorOf(() => other.transition(job.id, 'offered', { builder: BUILDER }, { from: seenByOther.state, atRound: seenByOther.round })).name).toBe('JobChangedError')
      // Without an expectation the table is checked against the state in the database, not the one it read.
      expect(errorOf(() => other.transition(job.id, 'offered', { builder: BUILDER })).name).toBe('IllegalTransitionError')
      expect(store.get(job.id)).toMatchObject({ state: 'returned', builder: undefined, result: { commit: B } })
      expect(other.transition(job.id, 'merged').state).toBe('merged')
    } finally {
      otherDb.close()
    }
  })

  it('recordResult and recordFailure take the round: a result of a round that has passed is refused', () => {
    const job = jobIn('testing')
    store.transition(job.id, 'queued', { round: 2 })
    const result = { commit: B, passed: true, builder: BUILDER, summary: 'ok', committedAt: 1, receivedAt: 2, receipt: 'cg==' }
    expect(errorOf(() => store.recordResult(job.id, 1, result, [])).name).toBe('JobChangedError')
    expect(errorOf(() => store.recordFailure(job.id, 1, 'no result', [])).name).toBe('JobChangedError')
    expect(store.get(job.id)).toMatchObject({ state: 'queued', round: 2 })
    expect(store.recordResult(job.id, 2, result, [], { builder: BUILDER, extraBuilders: [] })).toMatchObject({ state: 'returned', round: 2, builder: BUILDER })
  })
})
