import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Leases } from '../../../src/author/leases.js'
import { LEASE_MS } from '../../../src/jobs/constants.js'
import type { Job } from '../../../src/jobs/job.js'
import { JobStore } from '../../../src/jobs/job-store.js'
import { openDatabase, type Db } from '../../../src/store/database.js'

const S = 'f84745714ca429ce143f68047fc084fc5cb6f135'
const ONE = '12D3KooWHqdeSGb77juDqkWf9US9vLSUSfFjKqZ1Ek3494iqxkM6'
const TWO = '12D3KooWQ1ru54vqbLVkJ8bufD86PPEnWBAxSPFQA7Y3FsBKoLeS'

describe('Leases, on an injected clock', () => {
  let dir: string
  let db: Db
  let jobs: JobStore
  let now: number
  let lost: Array<{ job: string, builder: string, reason: string }>
  let leases: Leases

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-leases-'))
    db = openDatabase(path.join(dir, 'gitmesh.db'))
    jobs = new JobStore(db)
    now = 1_000_000
    lost = []
    leases = new Leases(jobs, (job, builder, reason) => { lost.push({ job: job.name, builder, reason }) }, () => now)
  })

  afterEach(async () => {
    leases.stop()
    db.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** A job offered to `builder` (and to `extra` as fan-out). */
  function placed (name: string, builder: string, extra: string[] = []): Job {
    const job = jobs.create({ name, repo: '/home/dev/shop', prompt: name, snapshot: S, test: 'true', attemptsBudget: 1, generateTimeoutMs: 1000, testTimeoutMs: 1000 })
    const offered = jobs.transition(job.id, 'offered', { builder })
    const withExtra = extra.length > 0 ? jobs.update(job.id, { extraBuilders: extra }) : offered
    leases.grant(withExtra, builder)
    for (const b of extra) leases.grant(withExtra, b)
    return withExtra
  }

  it('keeps a lease that is renewed in time, and loses the job once renewals stop', () => {
    const job = placed('renewed', ONE)
    for (let i = 0; i < 5; i++) {
      now += LEASE_MS - 1
      leases.renew({ type: 'lease', jobs: [{ job: job.id, round: 1 }] }, ONE)
      leases.expire()
    }
    expect(lost).toEqual([])
    now += LEASE_MS + 1
    leases.expire()
    expect(lost).toEqual([{ job: 'renewed', builder: ONE, reason: expect.stringContaining('stopped renewing its lease') }])
  })

  it('expires exactly after LEASE_MS, not before', () => {
    placed('edge', ONE)
    now += LEASE_MS
    leases.expire()
    expect(lost).toEqual([])
    now += 1
    leases.expire()
    expect(lost.map(l => l.job)).toEqual(['edge'])
  })

  it('renews only what the sender holds, at the round it names', () => {
    const job = placed('theirs', ONE)
    // Another peer, or a stale round, renews nothing.
    now += LEASE_MS - 1
    leases.renew({ type: 'lease', jobs: [{ job: job.id, round: 1 }] }, TWO)
    leases.renew({ type: 'lease', jobs: [{ job: job.id, round: 2 }] }, ONE)
    now += 2
    leases.expire()
    expect(lost).toEqual([{ job: 'theirs', builder: ONE, reason: expect.any(String) }])
  })

  it('keeps a lease per fan-out builder: one going silent loses only its share', () => {
    const job = placed('spread', ONE, [TWO])
    now += LEASE_MS - 1
    leases.renew({ type: 'lease', jobs: [{ job: job.id, round: 1 }] }, ONE)
    now += 2
    leases.expire()
    expect(lost).toEqual([{ job: 'spread', builder: TWO, reason: expect.any(String) }])
  })

  it('loses every job of a builder that disconnects, at once', () => {
    placed('a', ONE)
    placed('b', ONE)
    placed('c', TWO)
    leases.disconnected(ONE)
    expect(lost.map(l => l.job).sort()).toEqual(['a', 'b'])
    expect(lost.every(l => l.reason.includes('disconnected'))).toBe(true)
  })

  it('gives every holder a fresh lease at start (an author restarted): a builder still there re-attaches', () => {
    const job = placed('restarted', ONE)
    const fresh = new Leases(jobs, (j, builder) => { lost.push({ job: j.name, builder, reason: 'fresh' }) }, () => now)
    now += 5 * LEASE_MS
    fresh.start()
    fresh.stop()
    now += LEASE_MS - 1
    fresh.renew({ type: 'lease', jobs: [{ job: job.id, round: 1 }] }, ONE)
    now += LEASE_MS - 1
    fresh.expire()
    expect(lost).toEqual([])
  })

  it('forgets leases of jobs that ended', () => {
    const job = placed('ended', ONE)
    jobs.transition(job.id, 'cancelled', { reason: 'cancelled by the author' })
    now += 2 * LEASE_MS
    leases.expire()
    expect(lost).toEqual([])
  })
})
