import path from 'node:path'
import { defaultLogger } from '@libp2p/logger'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Author } from '../../../src/author/author.js'
import { openDatabase, type Db } from '../../../src/store/database.js'
import { TrustStore } from '../../../src/store/trust-store.js'
import { GrantStore } from '../../../src/store/grant-store.js'
import { JobStore } from '../../../src/jobs/job-store.js'
import { nextRound } from '../../../src/jobs/rounds.js'
import type { Job } from '../../../src/jobs/job.js'
import { noExchange, RecordingLink } from '../../helpers/job-link.js'
import { Scratch, type TestRepo } from '../../helpers/git-repo.js'

const S = 'f84745714ca429ce143f68047fc084fc5cb6f135'
const B = '8dbd366d17fc6a39ae29edb61afcefcea943301f'
const BUILDER = '12D3KooWHqdeSGb77juDqkWf9US9vLSUSfFjKqZ1Ek3494iqxkM6'

describe('nextRound', () => {
  const job = { round: 2, after: [] as string[] }
  const settings = { test: 'npm test', attempts: 4, generateTimeoutMs: 45_000, testTimeoutMs: 90_000 }

  it('is round + 1 with the new prompt, snapshot and every setting, and nothing left of the round before', () => {
    expect(nextRound(job, { prompt: 'p', snapshot: B, settings })).toEqual({
      round: 3,
      ranOn: { kind: 'snapshot', commit: B },
      prompt: 'p',
      snapshot: B,
      test: 'npm test',
      attemptsBudget: 4,
      generateTimeoutMs: 45_000,
      testTimeoutMs: 90_000,
      setup: null,
      projectTimeouts: null,
      builder: undefined,
      extraBuilders: [],
      attempt: 0,
      progress: undefined,
      result: null,
      merge: null,
      blockedBy: null,
      outsideOwns: null,
      reason: undefined
    })
  })

  it('sets the scheduling options when given, and leaves the job\'s own otherwise', () => {
    const scheduling = { priority: 5, after: ['other'], owns: ['src/**'], fanout: 2, builders: ['gpu'], stack: true, fanoutStop: 'first-pass' as const }
    expect(nextRound(job, { prompt: 'p', snapshot: B, settings, scheduling })).toMatchObject(scheduling)
    expect(Object.keys(nextRound(job, { prompt: 'p', snapshot: B, settings }))).not.toContain('priority')
  })

  it('leaves the commit a job with dependencies runs on to be chosen when they are ready', () => {
    expect(nextRound({ round: 1, after: ['x'] }, { prompt: 'p', snapshot: B, settings }).ranOn).toBeNull()
    expect(nextRound(job, { prompt: 'p', snapshot: B, settings, scheduling: { priority: 0, after: ['x'], owns: [], fanout: 1, builders: [], stack: false, fanoutStop: 'none' } }).ranOn).toBeNull()
  })
})

// A real Author on a real database and repository; it sends nothing, since no builder is trusted
// and the job is never placed.
describe('a new round reads gitmesh.json as an offer does', () => {
  let scratch: Scratch
  let home: string
  let db: Db
  let author: Author
  let repo: TestRepo

  beforeEach(() => {
    scratch = new Scratch()
    home = scratch.dir('gitmesh-rounds-')
    db = openDatabase(path.join(home, 'gitmesh.db'))
    const jobs = new JobStore(db)
    author = new Author({ network: new RecordingLink(), exchange: noExchange, trust: new TrustStore(db), grants: new GrantStore(db), jobs, log: defaultLogger().forComponent('gitmesh:test') })
    repo = scratch.repo()
    repo.writeFiles({ 'gitmesh.json': config('30s', '30s'), 'README.md': 'shop\n' })
    repo.commit('start')
  })

  afterEach(() => {
    db.close()
    scratch.cleanup()
  })

  function config (generate: string, test: string): string {
    return JSON.stringify({ test: 'sh test.sh', attempts: 2, timeouts: { generate, test } }) + '\n'
  }

  it('a save of a watched prompt file (submitTask) takes the timeouts gitmesh.json has now', async () => {
    const first = (await author.submitTask({ repo: repo.dir, name: 'add-greeting', prompt: 'add a greeting' })).job
    expect(first).toMatchObject({ round: 1, generateTimeoutMs: 30_000, testTimeoutMs: 30_000, attemptsBudget: 2 })
    repo.write('gitmesh.json', config('45s', '2m'))
    const { job, replaced } = await author.submitTask({ repo: repo.dir, name: 'add-greeting', prompt: 'add a friendly greeting', attempts: 3 })
    expect(replaced).toBe('queued')
    expect(job).toMatchObject({ id: first.id, state: 'queued', round: 2, prompt: 'add a friendly greeting', generateTimeoutMs: 45_000, testTimeoutMs: 120_000, attemptsBudget: 3 })
    expect(job.snapshot).not.toBe(first.snapshot)
    expect(author.jobs.get(first.id)).toEqual(job)
  })

  it('a re-offer after a rejection takes them too, and keeps the job\'s test command and attempt budget', async () => {
    const offered = await author.offer({ repo: repo.dir, prompt: 'add a greeting', test: 'sh other-test.sh', attempts: 3 })
    const returned = returnedResult(offered)
    repo.write('gitmesh.json', config('45s', '2m'))
    const again = await author.reject(returned, 'say hello world')
    expect(again).toMatchObject({ state: 'queued', round: 2, prompt: 'add a greeting\n\nsay hello world', test: 'sh other-test.sh', attemptsBudget: 3, generateTimeoutMs: 45_000, testTimeoutMs: 120_000 })
    expect(again.result).toBeUndefined()
  })

  it('a save while the job is merged is refused, and the job stays as it is', async () => {
    const offered = (await author.submitTask({ repo: repo.dir, name: 'merged-one', prompt: 'add a greeting' })).job
    const merged = author.jobs.transition(returnedResult(offered).id, 'merged', { merge: { w0: S, paths: [], conflicts: [], inProgress: false } })
    await expect(author.submitTask({ repo: repo.dir, name: 'merged-one', prompt: 'something else' })).rejects.toMatchObject({ name: 'JobStateError' })
    expect(author.jobs.get(offered.id)).toEqual(merged)
  })

  it('a save while a merge is being written is refused too: the new round would drop the record that restores the tree', async () => {
    const offered = (await author.submitTask({ repo: repo.dir, name: 'merging-one', prompt: 'add a greeting' })).job
    returnedResult(offered)
    const merging = author.jobs.update(offered.id, { merge: { w0: S, paths: ['greet.txt'], conflicts: [], inProgress: true } })
    await expect(author.submitTask({ repo: repo.dir, name: 'merging-one', prompt: 'something else' })).rejects.toMatchObject({ name: 'JobStateError' })
    expect(author.jobs.get(offered.id)).toEqual(merging)
  })

  /** x returned, and y stacked on x's result and returned too, as the scheduler and two builders would leave them. */
  async function stackedPair (): Promise<{ x: Job, y: Job }> {
    const x = returnedResult((await author.submitTask({ repo: repo.dir, name: 'x', prompt: 'write x' })).job)
    const offered = await author.offer({ repo: repo.dir, name: 'y', prompt: 'write y', after: ['x'], stack: true })
    author.jobs.setBase(offered.id, 1, { kind: 'stacked-on', commit: x.result!.commit, job: 'x', round: 1 })
    return { x, y: returnedResult(author.jobs.get(offered.id)!) }
  }

  it('a new round of the job a returned job is stacked on sends that one to its next round, waiting for a base again', async () => {
    const { y } = await stackedPair()
    await author.submitTask({ repo: repo.dir, name: 'x', prompt: 'write x, better' })
    expect(author.jobs.get(y.id)).toMatchObject({ state: 'queued', round: 2, result: undefined, ranOn: undefined, reason: 're-run: the result of x it was stacked on was replaced by a new round' })
  })

  it('a final rejection of it does too (the pass then blocks it), and a new round from accepted leaves it, its base being on HEAD', async () => {
    const { x, y } = await stackedPair()
    author.jobs.transition(x.id, 'merged', { merge: { w0: S, paths: [], conflicts: [], inProgress: false } })
    author.jobs.transition(x.id, 'accepted', { acceptedCommit: S })
    await author.submitTask({ repo: repo.dir, name: 'x', prompt: 'write x again' })
    expect(author.jobs.get(y.id)).toMatchObject({ state: 'returned', round: 1 })

    const pair = await (async () => {
      const x2 = returnedResult((await author.submitTask({ repo: repo.dir, name: 'x2', prompt: 'write x2' })).job)
      const offered = await author.offer({ repo: repo.dir, name: 'y2', prompt: 'write y2', after: ['x2'], stack: true })
      author.jobs.setBase(offered.id, 1, { kind: 'stacked-on', commit: x2.result!.commit, job: 'x2', round: 1 })
      return { x2, y2: returnedResult(author.jobs.get(offered.id)!) }
    })()
    await author.reject(pair.x2)
    // Round 2 waits for x2 again; the scheduling pass the rejection asked for may already have
    // found x2 dead and blocked it.
    const after = author.jobs.get(pair.y2.id)!
    expect(after).toMatchObject({ round: 2, result: undefined, ranOn: undefined })
    expect([['queued', 're-run: the result of x2 it was stacked on was rejected'], ['failed', 'blocked: x2 was rejected']]).toContainEqual([after.state, after.reason])
  })

  // `stack` needs exactly one `after`: a rule of the edge, tested in test/unit/jobs/task-options.test.ts.

  /** The job as if a builder's passing result had come in. */
  function returnedResult (job: Job): Job {
    return author.jobs.recordResult(job.id, job.round, { commit: job.snapshot, passed: true, builder: BUILDER, summary: 'ok', committedAt: 1, receivedAt: 2, receipt: 'cg==' }, [])
  }
})
