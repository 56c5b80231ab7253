import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import Database from 'libsql'
import { runCli, runCliJson } from '../../src/demo/processes.js'
import type { PruneView } from '../../src/daemon/views.js'
import { git, JobRig, waitUntil, type JobView } from '../helpers/job-rig.js'

/** A prompt for the built-in generator: write `file` with exactly `content`. */
function writes (what: string, file: string, content: string): string {
  return `${what}\n\n\`\`\`txt path=${file}\n${content}\`\`\`\n`
}

/** The job refs in the repository, by the git CLI. */
const gitmeshRefs = (repo: string): string[] => git(repo, 'for-each-ref', '--format=%(refname)', 'refs/gitmesh/results', 'refs/gitmesh/w0', 'refs/gitmesh/candidates', 'refs/gitmesh/before-reject').split('\n').filter(line => line !== '')

/** Rows of a job's live log in a node's database, read as the files hold them. */
function liveLogRows (home: string, jobId: string): number {
  const db = new Database(path.join(home, 'gitmesh.db'), { readonly: true })
  try {
    return (db.prepare('SELECT count(*) AS n FROM log_chunks WHERE job_id = ?').get(jobId) as { n: number }).n
  } finally {
    db.close()
  }
}

describe('housekeeping: jobs filters and prune', () => {
  let rig: JobRig
  let acceptedId: string
  beforeAll(async () => {
    rig = await JobRig.start()
    // accepted, rejected after a merge, and returned (waiting for review)
    const accepted = await rig.offer(writes('add a', 'a.txt', 'a\n'), ['--name', 'kept-a'])
    await rig.waitFor(accepted.name, ['returned'])
    acceptedId = accepted.id
    await rig.cli(['accept', accepted.name])
    const rejected = await rig.offer(writes('add b', 'b.txt', 'b\n'), ['--name', 'dropped-b'])
    await rig.waitFor(rejected.name, ['returned'])
    await rig.cli(['merge', rejected.name])
    await rig.cli(['reject', rejected.name])
    const waiting = await rig.offer(writes('add c', 'c.txt', 'c\n'), ['--name', 'review-c'])
    await rig.waitFor(waiting.name, ['returned'])
  }, 90_000)
  afterAll(async () => { await rig?.stop() })

  it('filters jobs by state, repository and time of last change, and refuses an unknown state', async () => {
    const names = (jobs: JobView[]): string[] => jobs.map(job => job.name).sort()
    expect(names(await rig.cli<JobView[]>(['jobs', '--state', 'accepted,rejected']))).toEqual(['dropped-b', 'kept-a'])
    expect(names(await rig.cli<JobView[]>(['jobs', '--state', 'returned', '--state', 'failed']))).toEqual(['review-c'])
    await mkdir(path.join(rig.repo, 'sub'), { recursive: true })
    expect(names(await runCliJson<JobView[]>(rig.authorHome, ['jobs', '--repo', 'sub'], { cwd: rig.repo }))).toEqual(['dropped-b', 'kept-a', 'review-c'])
    const other = path.join(rig.root, 'other')
    await mkdir(other)
    git(other, 'init', '-q')
    expect(await rig.cli<JobView[]>(['jobs', '--repo', other])).toEqual([])
    expect(names(await rig.cli<JobView[]>(['jobs', '--since', '1h']))).toEqual(['dropped-b', 'kept-a', 'review-c'])
    // Every job last changed before this command started, which takes far more than 1 ms.
    expect(await rig.cli<JobView[]>(['jobs', '--since', '1ms'])).toEqual([])
    const refused = await runCli(rig.authorHome, ['jobs', '--state', 'done'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('--state "done" is not a job state')
  })

  it('keeps younger jobs, lists without removing on --dry-run, removes old finished jobs with their refs, and a returned one only with --force', async () => {
    const before = gitmeshRefs(rig.repo)
    expect(before).toEqual(expect.arrayContaining(['refs/gitmesh/results/kept-a', 'refs/gitmesh/candidates/kept-a/1', 'refs/gitmesh/w0/kept-a', 'refs/gitmesh/results/dropped-b', 'refs/gitmesh/w0/dropped-b', 'refs/gitmesh/before-reject/dropped-b', 'refs/gitmesh/results/review-c']))

    const young = await rig.cli<PruneView>(['prune', '--older-than', '1h'])
    expect(young.removed).toEqual([])
    expect(gitmeshRefs(rig.repo)).toEqual(before)

    const dry = await rig.cli<PruneView>(['prune', '--older-than', '1ms', '--dry-run'])
    expect(dry.dryRun).toBe(true)
    expect(dry.removed.map(job => job.name).sort()).toEqual(['dropped-b', 'kept-a'])
    expect(dry.removed.find(job => job.name === 'dropped-b')?.refs.sort()).toEqual(['refs/gitmesh/before-reject/dropped-b', 'refs/gitmesh/candidates/dropped-b/1', 'refs/gitmesh/results/dropped-b', 'refs/gitmesh/w0/dropped-b'])
    expect(dry.kept).toEqual([expect.objectContaining({ name: 'review-c', state: 'returned' })])
    expect(gitmeshRefs(rig.repo)).toEqual(before)
    expect((await rig.cli<JobView[]>(['jobs'])).length).toBe(3)

    // The generator's output ("wrote a.txt") came in as a live log, and prune takes it too.
    expect(liveLogRows(rig.authorHome, acceptedId)).toBeGreaterThan(0)
    const pruned = await rig.cli<PruneView>(['prune', '--older-than', '1ms'])
    expect(pruned.removed.map(job => job.name).sort()).toEqual(['dropped-b', 'kept-a'])
    expect(liveLogRows(rig.authorHome, acceptedId)).toBe(0)
    expect(gitmeshRefs(rig.repo)).toEqual(['refs/gitmesh/candidates/review-c/1', 'refs/gitmesh/results/review-c'])
    expect((await rig.cli<JobView[]>(['jobs'])).map(job => job.name)).toEqual(['review-c'])
    const gone = await runCli(rig.authorHome, ['show', 'kept-a'])
    expect(gone.code).toBe(2)
    // The accepted change itself is the user's commit now: prune leaves history alone.
    expect(git(rig.repo, 'show', 'HEAD:a.txt')).toBe('a')
    const text = await runCli(rig.authorHome, ['prune', '--older-than', '1ms'])
    expect(text.stdout).toContain('kept review-c (returned): waiting for review')

    const forced = await rig.cli<PruneView>(['prune', '--older-than', '1ms', '--force'])
    expect(forced.removed.map(job => job.name)).toEqual(['review-c'])
    expect(gitmeshRefs(rig.repo)).toEqual([])
    expect(await rig.cli<JobView[]>(['jobs'])).toEqual([])
    // The freed name can be used again.
    const again = await rig.offer(writes('add a again', 'a2.txt', 'a2\n'), ['--name', 'kept-a'])
    await rig.waitFor(again.name, ['returned'])
  }, 60_000)

  it('on a builder, forgets the jobs it ran whose results were acknowledged', async () => {
    const young = await runCliJson<PruneView>(rig.builderHome, ['prune', '--older-than', '1h'])
    expect(young.builderJobs).toEqual([])
    // The builder marks a result acknowledged when the author's reply reaches it, a moment after
    // the author shows the job returned.
    let dry: PruneView | undefined
    await waitUntil(async () => {
      dry = await runCliJson<PruneView>(rig.builderHome, ['prune', '--older-than', '1ms', '--dry-run'])
      return dry.builderJobs.length === 4
    }, 10_000, 'the builder holds four acknowledged jobs')
    expect(dry!.builderJobs.map(job => job.name).sort()).toEqual(['dropped-b', 'kept-a', 'kept-a', 'review-c'])
    const pruned = await runCliJson<PruneView>(rig.builderHome, ['prune', '--older-than', '1ms'])
    expect(pruned.builderJobs.length).toBe(4)
    expect((await runCliJson<PruneView>(rig.builderHome, ['prune', '--older-than', '1ms', '--dry-run'])).builderJobs).toEqual([])
  })

  it('refuses a bad --older-than', async () => {
    const refused = await runCli(rig.authorHome, ['prune', '--older-than', 'soon'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('"soon" is not a duration')
  })
})
