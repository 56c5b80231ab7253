import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '@libp2p/logger'
import { openDatabase, type Db } from '../../../src/store/database.js'
import { JobStore } from '../../../src/jobs/job-store.js'
import type { Job } from '../../../src/jobs/job.js'
import { Notifier, type HookProblem } from '../../../src/notify/notifier.js'
import { MAX_QUEUED_EVENTS } from '../../../src/notify/constants.js'
import { eventOf, type HookEvent } from '../../../src/notify/events.js'

let dir: string
let db: Db
let store: JobStore
let notifier: Notifier | undefined

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-notifier-'))
  db = openDatabase(path.join(dir, 'gitmesh.db'))
  store = new JobStore(db)
})

afterEach(async () => {
  await notifier?.stop()
  notifier = undefined
  db.close()
  await rm(dir, { recursive: true, force: true })
})

const S = 'f84745714ca429ce143f68047fc084fc5cb6f135'
const B = '8dbd366d17fc6a39ae29edb61afcefcea943301f'

/** A job that returned a result, through the store's real state machine. */
function returnedJob (name: string): Job {
  const job = store.create({ name, repo: dir, prompt: `prompt for ${name}`, snapshot: S, test: 'true', attemptsBudget: 1, generateTimeoutMs: 1000, testTimeoutMs: 1000 })
  store.transition(job.id, 'offered')
  return store.recordResult(job.id, job.round, { commit: B, passed: true, builder: 'peer', summary: 'ok', committedAt: 1, receivedAt: 2, receipt: '' }, [])
}

function start (hooks: Array<{ on: HookEvent[], run: string }>, hookTimeoutMs?: number): HookProblem[] {
  const problems: HookProblem[] = []
  notifier = new Notifier({
    hooks,
    notify: false,
    view: job => ({ id: job.id, name: job.name, state: job.state }),
    log: defaultLogger().forComponent('test:hooks'),
    onProblem: problem => problems.push(problem),
    hookTimeoutMs
  })
  return problems
}

describe('events', () => {
  it('are a returned result, a failure and a merge with conflicts; nothing else', () => {
    const job = returnedJob('one')
    expect(eventOf(job)).toBe('returned')
    expect(eventOf({ ...job, state: 'generating' })).toBeUndefined()
    expect(eventOf({ ...job, state: 'failed' })).toBe('failed')
    expect(eventOf({ ...job, state: 'merged', merge: { paths: ['a'], conflicts: [], inProgress: false } })).toBeUndefined()
    expect(eventOf({ ...job, state: 'merged', merge: { paths: ['a'], conflicts: ['a'], inProgress: false } })).toBe('conflicts')
    expect(eventOf({ ...job, state: 'accepted' })).toBeUndefined()
  })
})

describe('Notifier', () => {
  it('runs matching hooks in order, once per job, round and event, with the JSON and variables', async () => {
    const log = path.join(dir, 'log')
    start([
      { on: ['returned'], run: `printf 'first %s %s ' "$GITMESH_EVENT" "$GITMESH_JOB_NAME" >> '${log}'; cat >> '${log}'` },
      { on: ['failed'], run: `echo never >> '${log}'` },
      { on: ['returned', 'failed'], run: `echo second >> '${log}'` }
    ])
    const job = returnedJob('greet')
    notifier!.onJob(job)
    notifier!.onJob(store.update(job.id, { progress: 'still returned' }))
    await notifier!.idle()
    expect(await readFile(log, 'utf8')).toBe(`first returned greet ${JSON.stringify({ id: job.id, name: 'greet', state: 'returned', event: 'returned' })}\nsecond\n`)
  })

  it('reports a failing hook and ends a hanging one at the timeout, then runs the next', async () => {
    const after = path.join(dir, 'after')
    const problems = start([
      { on: ['returned'], run: 'echo oops >&2; exit 4' },
      { on: ['returned'], run: 'sleep 30' },
      { on: ['returned'], run: `touch '${after}'` }
    ], 300)
    const started = Date.now()
    notifier!.onJob(returnedJob('slow'))
    await notifier!.idle()
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(problems.map(p => p.problem)).toEqual(['exited 4: oops', 'timed out after 300 ms and was ended'])
    expect(existsSync(after)).toBe(true)
  })

  it('holds at most MAX_QUEUED_EVENTS waiting events and reports the ones it skips', async () => {
    const release = path.join(dir, 'release')
    const count = path.join(dir, 'count')
    const problems = start([{ on: ['returned'], run: `while [ ! -e '${release}' ]; do sleep 0.02; done; echo x >> '${count}'` }])
    const job = returnedJob('many')
    // The first is taken at once; MAX_QUEUED_EVENTS more wait; two more are skipped.
    for (let i = 0; i < MAX_QUEUED_EVENTS + 3; i++) notifier!.onJob({ ...job, id: `job-${i}` })
    expect(problems.length).toBe(2)
    expect(problems[0]!.problem).toContain(`${MAX_QUEUED_EVENTS} events are already waiting`)
    await writeFile(release, '')
    await notifier!.idle()
    expect((await readFile(count, 'utf8')).split('\n').filter(Boolean).length).toBe(MAX_QUEUED_EVENTS + 1)
  }, 30_000)

  it('reports a hook that cannot start in a repository that is gone, and stops taking events once stopped', async () => {
    const problems = start([{ on: ['returned'], run: 'true' }])
    const job = returnedJob('gone')
    notifier!.onJob({ ...job, repo: path.join(dir, 'no-such-folder') })
    await notifier!.idle()
    expect(problems.map(p => p.problem)[0]).toMatch(/^could not start/)
    await notifier!.stop()
    notifier!.onJob({ ...job, id: 'later' })
    await notifier!.idle()
    expect(problems.length).toBe(1)
  })
})
