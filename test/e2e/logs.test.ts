import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_PATH, runCli } from '../../src/demo/processes.js'
import { callDaemon } from '../../src/daemon/control-client.js'
import { Home } from '../../src/home/home.js'
import type { LogChunkView, LogsView } from '../../src/daemon/views.js'
import { JobRig, waitUntil } from '../helpers/job-rig.js'

const LINES = 6

/**
 * A generator that prints `line 1` … `line N`, each only once the test creates `go-<i>` (and
 * marks `printed-<i>` after), then runs the built-in generator: the test sets the pace.
 */
function pacedGenerator (dir: string): { command: string, go: (i: number) => Promise<void>, printed: (i: number) => Promise<boolean> } {
  const command = [
    'i=1',
    `while [ $i -le ${LINES} ]; do`,
    `  while [ ! -e '${dir}/go-'$i ]; do sleep 0.02; done`,
    '  echo "line $i"',
    `  touch '${dir}/printed-'$i`,
    '  i=$((i+1))',
    'done',
    `exec '${process.execPath}' '${CLI_PATH}' generate-blocks`
  ].join('\n')
  return {
    command,
    go: async i => { await writeFile(path.join(dir, `go-${i}`), '') },
    printed: async i => await access(path.join(dir, `printed-${i}`)).then(() => true, () => false)
  }
}

/** `gitmesh logs JOB -f --json` as a process: every chunk it printed, and its exit. */
function follow (home: string, job: string): { chunks: LogChunkView[], exited: Promise<number | null>, child: ChildProcess, stderr: () => string } {
  const child = spawn(process.execPath, [CLI_PATH, 'logs', job, '-f', '--json'], { env: { ...process.env, GITMESH_HOME: home, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  const chunks: LogChunkView[] = []
  let stderr = ''
  child.stderr!.on('data', (data: Buffer) => { stderr += data.toString() })
  createInterface({ input: child.stdout! }).on('line', line => { chunks.push(JSON.parse(line) as LogChunkView) })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  return { chunks, exited, child, stderr: () => stderr }
}

const generated = (chunks: LogChunkView[]): string => chunks.filter(c => c.step === 'generate').map(c => c.text).join('')
const expected = (n: number): string => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join('')
const PROMPT = 'write the greeting\n\n```txt path=greet.txt\nhello world\n```\n'

/** The author's log of a job over its control socket (no process per look, for waits). */
async function authorLog (rig: JobRig, job: string): Promise<LogChunkView[]> {
  const home = Home.resolve(rig.authorHome)
  return (await callDaemon<LogsView>(home.socketPath, home.dir, 'logs', { job })).chunks
}

async function logsJson (rig: JobRig, job: string): Promise<LogChunkView[]> {
  const result = await runCli(rig.authorHome, ['logs', job, '--json'])
  expect(result.code, result.stderr).toBe(0)
  return result.stdout.split('\n').filter(line => line !== '').map(line => JSON.parse(line) as LogChunkView)
}

describe('live logs: builder → author, gitmesh logs [-f]', () => {
  let rig: JobRig | undefined
  const scratch: string[] = []
  const children: ChildProcess[] = []
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL')
    await rig?.stop()
    rig = undefined
    for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('logs -f started mid-job prints the lines as they come, each once and in order, and exits 0 when the job ends', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-logs-'))
    scratch.push(dir)
    const generator = pacedGenerator(dir)
    rig = await JobRig.start(['--generate', generator.command])
    const job = await rig.offer(PROMPT, ['--name', 'greeting'])
    await rig.waitFor(job.id, ['generating'])
    await generator.go(1)
    await generator.go(2)
    await waitUntil(async () => generated(await authorLog(rig!, 'greeting')) === expected(2), 15_000, 'lines 1-2 at the author')

    const follower = follow(rig.authorHome, 'greeting')
    children.push(follower.child)
    // What came before it started, then each line live, as it is printed.
    await waitUntil(() => generated(follower.chunks) === expected(2), 15_000, 'the follower to print lines 1-2')
    for (let i = 3; i <= LINES; i++) {
      await generator.go(i)
      await waitUntil(() => generated(follower.chunks) === expected(i), 15_000, `the follower to print line ${i}`)
    }
    expect(follower.child.exitCode).toBeNull()
    await rig.waitFor(job.id, ['returned'], 30_000)
    expect(await follower.exited, follower.stderr()).toBe(0)
    const all = await logsJson(rig, 'greeting')
    expect(follower.chunks).toEqual(all)
    expect(generated(all).startsWith(expected(LINES))).toBe(true)
    expect(all.some(c => c.step === 'test')).toBe(false) // the tests print nothing when they pass

    // show prints the last lines; logs without -f prints all of it as text
    const shown = await runCli(rig.authorHome, ['show', 'greeting'])
    expect(shown.stdout).toContain('live log, attempt 1')
    const text = await runCli(rig.authorHome, ['logs', 'greeting'])
    expect(text.stdout).toContain(`attempt 1 · generate ──\n${expected(LINES)}`)
    const second = await runCli(rig.authorHome, ['logs', 'greeting', '--attempt', '2', '--json'])
    expect(second.stdout).toBe('') // one attempt was enough
    const unknown = await runCli(rig.authorHome, ['logs', 'no-such-job'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no-such-job')
    const help = await runCli(rig.authorHome, ['logs', '--help'])
    expect(help.stdout).toContain('Examples:')
  }, 90_000)

  it('an author stopped mid-job gets the rest when it is back: every line once, in order, and a follower survives the restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-logs-'))
    scratch.push(dir)
    const generator = pacedGenerator(dir)
    rig = await JobRig.start(['--generate', generator.command])
    const job = await rig.offer(PROMPT, ['--name', 'greeting'])
    await rig.waitFor(job.id, ['generating'])
    await generator.go(1)
    await waitUntil(async () => generated(await authorLog(rig!, 'greeting')) === expected(1), 15_000, 'line 1 at the author')
    const follower = follow(rig.authorHome, 'greeting')
    children.push(follower.child)
    await waitUntil(() => generated(follower.chunks) === expected(1), 15_000, 'the follower to print line 1')

    // The author goes away; the builder prints on meanwhile.
    await rig.restart('author', false, async () => {
      for (let i = 2; i <= 4; i++) await generator.go(i)
      await waitUntil(async () => await generator.printed(4), 15_000, 'the builder to print line 4')
    })
    await waitUntil(() => generated(follower.chunks) === expected(4), 20_000, 'lines 2-4 after the author came back')
    for (let i = 5; i <= LINES; i++) await generator.go(i)
    await rig.waitFor(job.id, ['returned'], 30_000)
    expect(await follower.exited, follower.stderr()).toBe(0)
    expect(follower.stderr()).toContain('the daemon is back')

    const all = await logsJson(rig, 'greeting')
    expect(generated(all).startsWith(expected(LINES))).toBe(true)
    expect(follower.chunks).toEqual(all)
  }, 90_000)
})
