import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'libsql'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI_PATH } from '../../src/demo/processes.js'
import { git, JobRig, waitUntil, type JobView } from '../helpers/job-rig.js'

/**
 * kill -9 of a builder daemon at the moments that matter (issue 8): while it fetches S, while it
 * commits B, and after B is stored but before the author acknowledged it. Real daemons on
 * loopback; every wait is on a condition, bounded.
 */

const block = (file: string, content: string): string => `\`\`\`txt path=${file}\n${content}\n\`\`\`\n`

/** The builder's cache repositories (`<home>/builder/repos/<author>/<key>.git`). */
function cacheRepos (builderHome: string): string[] {
  const root = path.join(builderHome, 'builder', 'repos')
  if (!existsSync(root)) return []
  return readdirSync(root).flatMap(author => readdirSync(path.join(root, author))
    .filter(name => name.endsWith('.git')).map(name => path.join(root, author, name)))
}

function onlyCacheRepo (builderHome: string): string {
  const repos = cacheRepos(builderHome)
  expect(repos).toHaveLength(1)
  return repos[0]!
}

/** The builder's own row for a job, read from its database as another reader would (WAL). */
function builderRow (builderHome: string, id: string): { state: string, acked: number, result: string | null } | undefined {
  const db = new Database(path.join(builderHome, 'gitmesh.db'), { readonly: true })
  try {
    return db.prepare('SELECT state, acked, result FROM builder_jobs WHERE id = ?').get(id) as { state: string, acked: number, result: string | null } | undefined
  } finally {
    db.close()
  }
}

/** The daemon and every process under it (its git commands), deepest first. */
function processTree (pid: number): number[] {
  let children: number[] = []
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number)
  } catch {
    // pgrep exits 1 when there are none
  }
  return [...children.flatMap(processTree), pid]
}

/**
 * kill -9 of the daemon together with the git commands it runs, all at once: what a crash that
 * takes the whole service down (OOM killer, systemd's control-group kill, power) leaves — a git
 * command killed half-way, not one that finishes on its own after the daemon died.
 */
function killBuilderTree (rig: JobRig): void {
  for (const pid of processTree(rig.builder.child.pid!)) {
    try { process.kill(pid, 'SIGKILL') } catch { /* gone already */ }
  }
}

/** Everything about the author's working tree a job must not touch: HEAD, status, and the files' bytes. */
function workingTreeState (repo: string): string {
  const files = git(repo, 'ls-files', '-co', '--exclude-standard').split('\n').filter(Boolean).sort()
  const contents = files.map(file => `${file}:${execFileSync('git', ['hash-object', file], { cwd: repo, encoding: 'utf8' }).trim()}`)
  return [git(repo, 'rev-parse', 'HEAD'), git(repo, 'status', '--porcelain'), ...contents].join('\n')
}

/** The cache repository is sound: fsck --strict passes and no received pack is left half-way. */
function expectSoundCacheRepo (repo: string): void {
  // fsck exits 0 on "garbage found" (a temporary file a killed writer left among the loose
  // objects): its warnings and count-objects' garbage count say whether there is any.
  const fsck = spawnSync('git', ['fsck', '--strict', '--no-dangling', '--no-progress'], { cwd: repo, encoding: 'utf8' })
  expect(fsck.status, fsck.stderr).toBe(0)
  expect(fsck.stderr).not.toMatch(/garbage|bad|error/i)
  expect(git(repo, 'count-objects', '-v')).toMatch(/^garbage: 0$/m)
  expect(readdirSync(path.join(repo, 'objects')).filter(name => name.startsWith('incoming-gitmesh-'))).toEqual([])
  // Every worktree git lists is there (a crashed run's entries are pruned at start).
  const listed = git(repo, 'worktree', 'list', '--porcelain')
  expect(listed).not.toContain('prunable')
}

describe('a builder killed with kill -9', () => {
  // One author and one builder for the three cases, in order (starting a pair of daemons costs
  // seconds); each case uses its own job and leaves both running.
  let rig: JobRig | undefined
  let dir = ''
  /** The job named `forward` waits for this file before it generates; the others run at once. */
  let release = ''
  /** Each run of the `forward` job's generator appends its pid here. */
  let runs = ''
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-faults-'))
    release = path.join(dir, 'release')
    runs = path.join(dir, 'forward-runs')
    const generate = `if [ "$GITMESH_JOB_NAME" = forward ]; then echo $$ >> '${runs}'; while [ ! -e '${release}' ]; do sleep 0.05; done; fi; exec '${process.execPath}' '${CLI_PATH}' generate-blocks`
    rig = await JobRig.start(['--slots', '1', '--generate', generate])
  }, 60_000)
  afterAll(async () => {
    // A failed case may leave the `forward` generator waiting: let it end with its builder.
    if (release !== '') await writeFile(release, '').catch(() => {})
    // Stops the daemons (a killed one included: stop checks the child first) and removes the homes.
    await rig?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('while it fetches S: restarted, the job finishes; the cache repository is sound and the author\'s uncommitted work untouched', async () => {
    const r = rig!
    // Uncommitted work in the author's tree: an edited tracked file and an untracked one.
    await writeFile(path.join(r.repo, 'notes.txt'), 'line one\nedited, not committed\n')
    await writeFile(path.join(r.repo, 'draft.txt'), 'a draft\n')
    let hit = false
    // A large incompressible file (untracked, so in S) makes the fetch take long enough to be
    // caught in the act; a try whose fetch was done before the kill landed runs again, larger.
    const big: string[] = []
    for (let attempt = 1; attempt <= 3 && !hit; attempt++) {
      big.push(path.join(r.repo, `big-${attempt}.bin`))
      await writeFile(big.at(-1)!, randomBytes(attempt * 8 * 1024 * 1024))
      const before = workingTreeState(r.repo)
      const job = await r.offer(`fetch ${attempt}\n\n${block(`out-${attempt}.txt`, 'ok')}`, ['--name', `fetch-${attempt}`])
      // `fetching` reaches the author only when the fetch still runs 100 ms after it began.
      const seen = await r.waitForView(job.name, view => !['queued', 'offered'].includes(view.state), 'started')
      killBuilderTree(r)
      await r.restart('builder', true, async () => {
        // Killed during the fetch when S never got its fetched ref in the cache repository.
        const repo = onlyCacheRepo(r.builderHome)
        hit = seen.state === 'fetching' && !git(repo, 'for-each-ref', '--format=%(refname)', 'refs/gitmesh/fetched/').includes(job.snapshot)
      })
      // Finished by the restarted builder, or after being lost and offered again (to it: the only one).
      const returned = await r.waitFor(job.name, ['returned'], 40_000)
      expect(returned.result?.passed).toBe(true)
      expect(git(r.repo, 'show', `${returned.result!.commit}:out-${attempt}.txt`)).toBe('ok')
      expect(workingTreeState(r.repo)).toBe(before)
    }
    expect(hit, 'no try killed the builder while S was still being fetched').toBe(true)
    expectSoundCacheRepo(onlyCacheRepo(r.builderHome))
    expect(readFileSync(path.join(r.repo, 'notes.txt'), 'utf8')).toBe('line one\nedited, not committed\n')
    // The large files have served; later snapshots need not carry them.
    for (const file of big) await rm(file)
  }, 60_000)

  it('while it commits B: restarted, the job finishes once, with no half-written objects or stale worktrees left', async () => {
    const r = rig!
    const before = workingTreeState(r.repo)
    const marker = path.join(dir, 'tested')
    // The test writes 1,000 new files, so B's `git add -A` takes a while; the marker says the
    // tests ran (the restarted run writes it again).
    const test = `i=0; while [ $i -lt 1000 ]; do echo $i > gen-$i.txt; i=$((i+1)); done; touch '${marker}'`
    const job = await r.offer(`commit\n\n${block('commit.txt', 'ok')}`, ['--name', 'commit', '--test', test, '--attempts', '1'])
    // Looked for every few milliseconds (waitUntil's 25 ms could miss a fast machine's whole `git add`).
    const tested = Date.now() + 30_000
    while (!existsSync(marker) && Date.now() < tested) await new Promise(resolve => setTimeout(resolve, 3))
    expect(existsSync(marker)).toBe(true)
    const repo = onlyCacheRepo(r.builderHome)
    // `git add -A` holds the worktree's index.lock (in the cache repository's worktrees/<name>/):
    // kill as soon as it appears, so the kill lands inside the commit step.
    const locked = (): boolean => readdirSync(path.join(repo, 'worktrees'), { withFileTypes: true })
      .some(entry => entry.isDirectory() && existsSync(path.join(repo, 'worktrees', entry.name, 'index.lock')))
    const deadline = Date.now() + 10_000
    while (!locked() && Date.now() < deadline) await new Promise(resolve => setImmediate(resolve))
    expect(locked()).toBe(true)
    killBuilderTree(r)
    let crashed: { state: string } | undefined
    await r.restart('builder', true, async () => {
      crashed = builderRow(r.builderHome, job.id)
      await rm(marker)
    })
    // The kill came before the result was stored: the restarted builder has to run it again.
    expect(crashed?.state).toBe('testing')
    const returned = await r.waitFor(job.name, ['returned'], 40_000)
    expect(returned.result?.passed).toBe(true)
    expect(existsSync(marker)).toBe(true)
    expect(returned.candidates).toHaveLength(1)
    expect(returned.attempts.length).toBeGreaterThanOrEqual(1)
    expect(git(r.repo, 'show', `${returned.result!.commit}:gen-999.txt`)).toBe('999')
    // The author's database says the same through the CLI.
    const shown = await r.cli<JobView>(['show', job.name])
    expect(shown).toMatchObject({ state: 'returned', candidates: [expect.objectContaining({ number: 1, passed: true })] })
    expect(shown.attempts).toEqual(returned.attempts)
    expectSoundCacheRepo(repo)
    // Only the worktree the finished job left for reuse remains; the crashed run's is gone, in
    // the work area and in git's list.
    const worktrees = git(repo, 'worktree', 'list', '--porcelain').split('\n').filter(line => line.startsWith('worktree ')).map(line => line.slice(9))
    expect(worktrees.filter(w => w !== repo)).toHaveLength(1)
    expect(readdirSync(path.join(r.builderHome, 'builder', 'worktrees'))).toHaveLength(1)
    expect(workingTreeState(r.repo)).toBe(before)
  }, 60_000)

  it('after B is stored, before the author acknowledged it: the restarted builder announces it again and it is taken once', async () => {
    const r = rig!
    const job = await r.offer(`forward\n\n${block('forward.txt', 'ok')}`, ['--name', 'forward'])
    await r.waitFor(job.name, ['generating'])
    // With the author away no acknowledgement can come: the builder finishes, stores the result
    // unacknowledged, and is killed; both come back, the builder first.
    await r.restart('author', false, async () => {
      await writeFile(release, '')
      await waitUntil(() => builderRow(r.builderHome, job.id)?.state === 'done', 30_000)
      expect(builderRow(r.builderHome, job.id)).toMatchObject({ state: 'done', acked: 0 })
      killBuilderTree(r)
      await r.restart('builder', true)
      // The restarted builder kept the result (stored before the crash) and does not run the job again.
      expect(builderRow(r.builderHome, job.id)).toMatchObject({ state: 'done', acked: 0 })
    })
    const returned = await r.waitFor(job.name, ['returned'], 30_000)
    expect(returned.result).toMatchObject({ passed: true, builder: r.builder.peerId })
    expect(returned.candidates).toHaveLength(1)
    expect(returned.attempts).toHaveLength(1)
    await waitUntil(() => builderRow(r.builderHome, job.id)?.acked === 1, 10_000)
    // The generator ran once, before the crash.
    expect(readFileSync(runs, 'utf8').trim().split('\n')).toHaveLength(1)
    expectSoundCacheRepo(onlyCacheRepo(r.builderHome))
  }, 60_000)
})
