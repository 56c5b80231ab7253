import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDatabase, type Db } from '../../../src/store/database.js'
import { JobStore, type NewJob } from '../../../src/jobs/job-store.js'
import type { Job } from '../../../src/jobs/job.js'
import { pruneJobs } from '../../../src/author/prune.js'
import { ObjectStore } from '../../../src/git/object-store.js'

let dir: string
let repo: string
let db: Db
let store: JobStore
let head: string

const git = (...args: string[]): string => execFileSync('git', args, { cwd: repo, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.invalid', GIT_COMMITTER_NAME: 'dev', GIT_COMMITTER_EMAIL: 'dev@example.invalid' } }).trim()

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-prune-'))
  repo = path.join(dir, 'repo')
  await mkdir(repo)
  git('init', '-q', '-b', 'main')
  await writeFile(path.join(repo, 'a.txt'), 'a\n')
  git('add', '-A')
  git('commit', '-q', '-m', 'a')
  head = git('rev-parse', 'HEAD')
  db = openDatabase(path.join(dir, 'gitmesh.db'))
  store = new JobStore(db)
})

afterEach(async () => {
  db.close()
  await rm(dir, { recursive: true, force: true })
})

function offered (name: string, fields: Partial<NewJob> = {}): Job {
  const job = store.create({ name, repo, prompt: name, snapshot: head, test: 'true', attemptsBudget: 1, generateTimeoutMs: 1000, testTimeoutMs: 1000, ...fields })
  return store.transition(job.id, 'offered')
}

function accepted (name: string): Job {
  const job = offered(name)
  store.recordResult(job.id, job.round, { commit: head, passed: true, builder: 'peer', summary: 'ok', committedAt: 1, receivedAt: 2, receipt: '' }, [])
  store.transition(job.id, 'merged', { merge: { w0: head, paths: [], conflicts: [], inProgress: false } })
  return store.transition(job.id, 'accepted', { acceptedCommit: head })
}

const refs = (): string[] => git('for-each-ref', '--format=%(refname)', 'refs/gitmesh/').split('\n').filter(Boolean)
const later = (): number => Date.now() + 60_000

describe('pruneJobs', () => {
  it('deletes exactly the job\'s refs, not those of a job whose name starts the same', async () => {
    const job = offered('fix')
    store.transition(job.id, 'cancelled')
    offered('fix-more')
    for (const ref of ['refs/gitmesh/results/fix', 'refs/gitmesh/candidates/fix/1', 'refs/gitmesh/w0/fix', 'refs/gitmesh/before-reject/fix', 'refs/gitmesh/results/fix-more', 'refs/gitmesh/candidates/fix-more/1']) git('update-ref', ref, head)
    // The exchange's store of the repository has read the refs' commits as haves.
    const objects = await ObjectStore.open(repo)
    const fixCommit = git('commit-tree', '-m', 'fix', `${head}^{tree}`)
    git('update-ref', 'refs/gitmesh/results/fix', fixCommit)
    expect(await objects.gitmeshCommits(10)).toContain(fixCommit)
    const told: string[] = []
    const { removed } = await pruneJobs(store, { olderThanMs: 0, now: later(), refsDeleted: async repo => { told.push(repo); objects.forgetGitmeshRefs() } })
    expect(removed.map(job => job.name)).toEqual(['fix'])
    expect(refs()).toEqual(['refs/gitmesh/candidates/fix-more/1', 'refs/gitmesh/results/fix-more'])
    expect(store.get(job.id)).toBeUndefined()
    expect(told).toEqual([repo])
    // A pruned result is no longer offered as a have: `git gc` may remove it.
    expect(await objects.gitmeshCommits(10)).not.toContain(fixCommit)
    objects.close()
  })

  it('keeps a finished job that an unfinished one depends on, and prunes it once the dependent is over', async () => {
    accepted('data-model')
    const api = store.create({ name: 'api', repo, prompt: 'api', snapshot: head, test: 'true', attemptsBudget: 1, generateTimeoutMs: 1000, testTimeoutMs: 1000, after: ['data-model'] })
    const first = await pruneJobs(store, { olderThanMs: 0, now: later() })
    expect(first.removed).toEqual([])
    expect(first.kept).toEqual([{ name: 'data-model', state: 'accepted', reason: 'api depends on it' }])
    store.transition(api.id, 'cancelled')
    const second = await pruneJobs(store, { olderThanMs: 0, now: later() })
    expect(second.removed.map(job => job.name).sort()).toEqual(['api', 'data-model'])
  })

  it('forgets a job whose repository is gone, saying its refs were not looked for', async () => {
    const gone = path.join(dir, 'gone')
    await mkdir(gone)
    const job = store.create({ name: 'orphan', repo: gone, prompt: 'x', snapshot: head, test: 'true', attemptsBudget: 1, generateTimeoutMs: 1000, testTimeoutMs: 1000 })
    store.transition(job.id, 'cancelled')
    await rm(gone, { recursive: true })
    const { removed } = await pruneJobs(store, { olderThanMs: 0, now: later() })
    expect(removed).toEqual([expect.objectContaining({ name: 'orphan', refs: [], refsNote: expect.stringMatching(/^refs not looked for/) })])
    expect(store.list()).toEqual([])
  })
})
