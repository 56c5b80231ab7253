import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_PATH, runCli, runCliJson, startDaemon, type DaemonProcess } from '../../src/demo/processes.js'
import { blockingGenerator, JobRig, waitUntil, type JobView } from '../helpers/job-rig.js'

/** A long-running `gitmesh` command (watch, jobs --watch) with what it printed so far. */
interface Follower { stdout: string[], stderr: string[], child: ChildProcess, stop: () => Promise<void> }

function follow (home: string, args: string[]): Follower {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { env: { ...process.env, GITMESH_HOME: home, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout: string[] = []
  const stderr: string[] = []
  createInterface({ input: child.stdout! }).on('line', line => { stdout.push(line) })
  createInterface({ input: child.stderr! }).on('line', line => { stderr.push(line) })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  return {
    stdout,
    stderr,
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT')
      await exited
    }
  }
}

const events = (f: Follower): Array<{ event: string, job?: string, file?: string }> =>
  f.stdout.flatMap(line => { try { return [JSON.parse(line) as { event: string }] } catch { return [] } })

describe('waiting without traps: jobs nobody can take, daemon restarts, saves while it is down', () => {
  let rig: JobRig | undefined
  const followers: Follower[] = []
  const daemons: DaemonProcess[] = []
  const scratch: string[] = []
  afterEach(async () => {
    for (const f of followers.splice(0)) await f.stop()
    for (const d of daemons.splice(0)) await d.stop()
    await rig?.stop()
    rig = undefined
    for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('says why no builder can take a job in offer, jobs and show, and offer --wait gives up with exit 7', async () => {
    rig = await JobRig.start()
    // An author that trusts no builder: offer says so at once.
    const lonelyHome = await mkdtemp(path.join(tmpdir(), 'gitmesh-lonely-'))
    scratch.push(lonelyHome)
    await runCliJson(lonelyHome, ['init'])
    daemons.push(await startDaemon(lonelyHome))
    const offered = await runCli(lonelyHome, ['offer', '--repo', rig.repo, '-m', 'nobody will build this'])
    expect(offered.code).toBe(0)
    expect(offered.stdout).toContain('no builder can take it yet: no builder is trusted')
    const lonely = await runCliJson<JobView[]>(lonelyHome, ['jobs'])
    expect(lonely[0]!.state).toBe('queued')
    expect(lonely[0]!.waitingFor?.reason).toContain('no builder is trusted')

    // A tag no trusted builder has: --wait ends after the bounded time with its own exit code.
    const started = Date.now()
    const tagged = await runCli(rig.authorHome, ['offer', '--repo', rig.repo, '-m', 'needs a gpu', '--name', 'gpu-job', '--builder', 'gpu', '--wait', '--unplaced-timeout', '1s'])
    expect(tagged.code).toBe(7)
    expect(tagged.stdout).toContain('no trusted builder matches builders: gpu')
    expect(Date.now() - started).toBeLessThan(20_000)
    const shown = await runCli(rig.authorHome, ['show', 'gpu-job'])
    expect(shown.stdout).toMatch(/waiting +no builder can take it: no trusted builder matches builders: gpu/)
    expect((await rig.show('gpu-job')).state).toBe('queued')

    // Every builder that could take it is down: said too, and the job runs once one is back.
    await rig.restart('builder', false, async () => {
      const job = await rig!.offer('greet\n\n```txt path=greet.txt\nhello world\n```\n', ['--name', 'offline-job'])
      expect(job.state).toBe('queued')
      await waitUntil(async () => (await rig!.show('offline-job')).waitingFor?.reason.includes('unreachable') === true)
    })
    const done = await rig.waitFor('offline-job', ['returned'], 60_000)
    expect(done.waitingFor).toBeNull()
  }, 120_000)

  it('jobs --watch reconnects when the daemon restarts, and says so', async () => {
    rig = await JobRig.start()
    const watching = follow(rig.authorHome, ['jobs', '--watch', '--json'])
    followers.push(watching)
    const said = (): string => `; it printed ${JSON.stringify(watching.stderr.slice(-5))}, exit ${watching.child.exitCode}`
    await waitUntil(() => watching.stdout.length > 0, 30_000, 'a first listing')
    await rig.restart('author', false, async () => {
      await waitUntil(() => watching.stderr.some(line => line.includes('the daemon went away')), 30_000, `"the daemon went away"${said()}`)
    })
    await waitUntil(() => watching.stderr.some(line => line.includes('reconnected to the daemon')), 30_000, `"reconnected"${said()}`)
    expect(watching.child.exitCode).toBeNull()
    await rig.offer('greet\n\n```txt path=greet.txt\nhello world\n```\n', ['--name', 'after-restart'])
    await waitUntil(() => watching.stdout.some(line => line.includes('"after-restart"')), 30_000, `the new job in the listing${said()}`)
  }, 90_000)

  it('offers a prompt file saved while the daemon was down once it is back', async () => {
    rig = await JobRig.start()
    const prompts = path.join(rig.repo, '.gitmesh', 'prompts')
    await mkdir(prompts, { recursive: true })
    const watch = follow(rig.authorHome, ['watch', '--repo', rig.repo, '--json'])
    followers.push(watch)
    await waitUntil(() => events(watch).some(e => e.event === 'watching'))
    await rig.restart('author', false, async () => {
      await writeFile(path.join(prompts, 'while-down.md'), 'greet\n\n```txt path=greet.txt\nhello world\n```\n')
      await waitUntil(() => events(watch).some(e => e.event === 'daemon-down'))
    })
    await waitUntil(() => events(watch).some(e => e.event === 'offered' && e.job === 'while-down'))
    expect((await rig.waitFor('while-down', ['returned'], 60_000)).result?.passed).toBe(true)
  }, 90_000)

  it('flags overlapping owns globs only, not every job without owns', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-gen-'))
    scratch.push(dir)
    rig = await JobRig.start(['--generate', blockingGenerator(dir).command])
    for (const [name, owns] of [['free-a', []], ['free-b', []], ['api', ['src/api/**']], ['api-auth', ['src/api/auth/*.ts']], ['docs', ['docs/**']]] as const) {
      await rig.offer(`${name}\n`, ['--name', name, ...owns.flatMap(glob => ['--owns', glob])])
    }
    const jobs = new Map((await rig.cli<JobView[]>(['jobs'])).map(job => [job.name, job.overlaps]))
    expect(jobs.get('free-a')).toEqual([])
    expect(jobs.get('free-b')).toEqual([])
    expect(jobs.get('api')).toEqual(['api-auth'])
    expect(jobs.get('api-auth')).toEqual(['api'])
    expect(jobs.get('docs')).toEqual([])
  }, 60_000)

  it('refuses numbers that are not whole numbers instead of reading their leading digits', async () => {
    rig = await JobRig.start()
    for (const [flag, value] of [['--attempts', '3abc'], ['--priority', '1.5'], ['--fanout', '2x']]) {
      const result = await runCli(rig.authorHome, ['offer', '--repo', rig.repo, '-m', 'x', flag!, value!])
      expect(result.code, `${flag} ${value}`).toBe(2)
      expect(result.stderr).toContain(`${flag} must be a whole number, not "${value}"`)
    }
    expect(await rig.cli<JobView[]>(['jobs'])).toEqual([])
  }, 60_000)
})
