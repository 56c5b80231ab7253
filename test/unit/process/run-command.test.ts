import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { completeUtf8End, runCommand, type RunCommandOptions } from '../../../src/process/run-command.js'
import { scrubbedEnv } from '../../../src/process/environment.js'
import { PASSED_ENV_KEYS } from '../../../src/process/constants.js'

let dir: string

beforeAll(() => { dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'gitmesh-run-command-'))) })
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

const run = async (command: string, extra: Partial<RunCommandOptions> = {}): ReturnType<typeof runCommand> =>
  await runCommand({ command, cwd: dir, env: {}, timeoutMs: 10_000, ...extra })

/** Every `label pid` line of the output, as label → pid. */
function pidsIn (output: string): Map<string, number> {
  return new Map([...output.matchAll(/^(\w+) (\d+)$/gm)].map(m => [m[1] ?? '', Number(m[2])]))
}

/** Processes as `ps` (the oracle, apart from the code under test) sees them: pid → { pgid, state }. */
function processTable (): Map<number, { pgid: number, state: string }> {
  const text = execFileSync('ps', ['-eo', 'pid=,pgid=,stat='], { encoding: 'utf8' })
  return new Map(text.trim().split('\n').map(line => {
    const [pid, pgid, state] = line.trim().split(/\s+/)
    return [Number(pid), { pgid: Number(pgid), state: state ?? '' }]
  }))
}

const errnoOf = (fn: () => void): string | undefined => {
  try {
    fn()
    return undefined
  } catch (err) {
    return (err as NodeJS.ErrnoException).code
  }
}

/**
 * True when no process of the group runs. `kill(-pgid, 0)` throwing ESRCH is the plain answer; an
 * orphan that was killed stays a zombie (still signalable) where init does not reap, as in some
 * containers, so a group of zombies only also counts as gone.
 */
function groupGone (pgid: number): boolean {
  if (errnoOf(() => process.kill(-pgid, 0)) === 'ESRCH') return true
  return [...processTable().values()].every(p => p.pgid !== pgid || p.state.startsWith('Z'))
}

function processGone (pid: number): boolean {
  if (errnoOf(() => process.kill(pid, 0)) === 'ESRCH') return true
  return processTable().get(pid)?.state.startsWith('Z') ?? true
}

/** Polls `condition` briefly: kills are asynchronous, so "gone" may take a few milliseconds to show. */
async function eventually (condition: () => boolean, ms = 2_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  return true
}

/** A leader with a background child and a nested shell that has a background child of its own. */
const FAMILY = `sleep 30 & echo "bg $!"
sh -c 'sleep 30 & echo "nested $!"; echo "sub $$"; wait' &
echo "leader $$"
wait`

describe('runCommand', () => {
  it('reports the exit code and the combined output in the order it was written', async () => {
    const outcome = await run('echo 1; echo 2 >&2; echo 3; echo 4 >&2; exit 3')
    expect(outcome).toMatchObject({ exitCode: 3, signal: null, timedOut: false, cancelled: false, truncated: false })
    expect(outcome.output).toBe('1\n2\n3\n4\n')
    expect(outcome.ms).toBeGreaterThanOrEqual(0)
  })

  it('runs in cwd', async () => {
    const outcome = await run('pwd')
    expect(outcome.output).toBe(`${dir}\n`)
  })

  it('reports a command that does not exist as exit 127', async () => {
    const outcome = await run('gitmesh-no-such-command-xyz --flag')
    expect(outcome.exitCode).toBe(127)
    expect(outcome.output).toContain('gitmesh-no-such-command-xyz')
    expect(outcome.output).toMatch(/not found/)
  })

  it('gives the command /dev/null as stdin', async () => {
    const outcome = await run('wc -c; cat; echo done')
    expect(outcome.exitCode).toBe(0)
    expect(outcome.output.trim().split('\n')).toEqual(['0', 'done'])
  })

  it('passes only the allowed variables and the extras', async () => {
    process.env.GITMESH_TEST_SECRET_TOKEN = 'hunter2-secret'
    process.env.AWS_SECRET_ACCESS_KEY = 'aws-secret-value'
    try {
      const outcome = await run('env', { env: { GITMESH_JOB_ID: 'job-1', GITMESH_PROMPT_FILE: '/tmp/p.md' } })
      expect(outcome.output).not.toContain('hunter2-secret')
      expect(outcome.output).not.toContain('aws-secret-value')
      const names = outcome.output.trim().split('\n').map(line => line.slice(0, line.indexOf('=')))
      expect(names).toContain('GITMESH_JOB_ID')
      expect(names).toContain('PATH')
      // The shell itself adds PWD (and some shells SHLVL, OLDPWD, _).
      const shellOwn = ['PWD', 'OLDPWD', 'SHLVL', '_']
      const allowed = new Set([...PASSED_ENV_KEYS, 'GITMESH_JOB_ID', 'GITMESH_PROMPT_FILE', ...shellOwn])
      expect(names.filter(name => !allowed.has(name))).toEqual([])
    } finally {
      delete process.env.GITMESH_TEST_SECRET_TOKEN
      delete process.env.AWS_SECRET_ACCESS_KEY
    }
  })

  it('times out, kills the group and reports it', async () => {
    const outcome = await run('echo "leader $$"; exec sleep 30', { timeoutMs: 200 })
    expect(outcome).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: true, cancelled: false })
    expect(outcome.ms).toBeGreaterThanOrEqual(150)
    expect(outcome.ms).toBeLessThan(5_000)
    const pgid = pidsIn(outcome.output).get('leader')
    expect(pgid).toBeTypeOf('number')
    expect(await eventually(() => errnoOf(() => process.kill(-(pgid ?? 0), 0)) === 'ESRCH')).toBe(true)
  })

  it('kills the group when the command goes quiet for idleTimeoutMs, however much total time is left', async () => {
    // Prints for a while (each line well inside the idle bound), then goes quiet.
    const outcome = await run('echo "leader $$"; for i in 1 2 3 4; do echo "tick $i"; sleep 0.1; done; exec sleep 30', { timeoutMs: 20_000, idleTimeoutMs: 1_000 })
    expect(outcome).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: false, idleTimedOut: true, cancelled: false })
    expect(outcome.output).toContain('tick 4')
    // the ticks took about 400 ms and did not count as silence; the quiet second after them did
    expect(outcome.ms).toBeGreaterThanOrEqual(1_300)
    expect(outcome.ms).toBeLessThan(5_000)
    const pgid = pidsIn(outcome.output).get('leader')
    expect(await eventually(() => groupGone(pgid ?? 0))).toBe(true)
  })

  it('lets a command that keeps writing run past idleTimeoutMs, and one that ends in time is not idle', async () => {
    // 1.5 s of ticks against a 1 s idle bound (wide gaps: a loaded machine may delay a tick)
    const chatty = await run('for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do echo "tick $i"; sleep 0.1; done', { idleTimeoutMs: 1_000 })
    expect(chatty).toMatchObject({ exitCode: 0, timedOut: false, idleTimedOut: false })
    expect(chatty.ms).toBeGreaterThanOrEqual(1_400)
    const total = await run('echo start; exec sleep 30', { timeoutMs: 300, idleTimeoutMs: 10_000 })
    expect(total).toMatchObject({ timedOut: true, idleTimedOut: false })
  })

  it('kills background children and nested shells on timeout', async () => {
    const outcome = await run(FAMILY, { timeoutMs: 1_000 })
    expect(outcome.timedOut).toBe(true)
    const pids = pidsIn(outcome.output)
    expect([...pids.keys()].sort()).toEqual(['bg', 'leader', 'nested', 'sub'])
    expect(await eventually(() => groupGone(pids.get('leader') ?? 0))).toBe(true)
    for (const pid of pids.values()) expect(processGone(pid)).toBe(true)
  })

  it('kills the whole group on abort', async () => {
    const controller = new AbortController()
    let seen = ''
    const outcome = await run(FAMILY, {
      signal: controller.signal,
      onOutput: (chunk) => {
        seen += chunk
        if (pidsIn(seen).size === 4) controller.abort()
      }
    })
    expect(outcome).toMatchObject({ cancelled: true, timedOut: false, exitCode: null, signal: 'SIGTERM' })
    const pids = pidsIn(outcome.output)
    expect([...pids.keys()].sort()).toEqual(['bg', 'leader', 'nested', 'sub'])
    expect(await eventually(() => groupGone(pids.get('leader') ?? 0))).toBe(true)
    for (const pid of pids.values()) expect(processGone(pid)).toBe(true)
  })

  it('ends what the command left running when it exits by itself', async () => {
    const outcome = await run('sleep 30 & echo "bg $!"; echo "leader $$"; exit 4')
    expect(outcome).toMatchObject({ exitCode: 4, timedOut: false, cancelled: false })
    expect(outcome.ms).toBeLessThan(5_000)
    const pids = pidsIn(outcome.output)
    expect([...pids.keys()].sort()).toEqual(['bg', 'leader'])
    expect(await eventually(() => groupGone(pids.get('leader') ?? 0))).toBe(true)
    expect(processGone(pids.get('bg') ?? 0)).toBe(true)
  })

  it('sends SIGKILL after the grace when SIGTERM is ignored', async () => {
    const controller = new AbortController()
    const outcome = await run('trap "" TERM; sleep 30 & echo "bg $!"; echo "leader $$"; wait', {
      signal: controller.signal,
      killGraceMs: 100,
      onOutput: (chunk) => { if (chunk.includes('leader')) controller.abort() }
    })
    expect(outcome).toMatchObject({ cancelled: true, exitCode: null, signal: 'SIGKILL' })
    const pids = pidsIn(outcome.output)
    expect(await eventually(() => groupGone(pids.get('leader') ?? 0))).toBe(true)
    expect(processGone(pids.get('bg') ?? 0)).toBe(true)
  })

  it('runs nothing when the signal is already aborted', async () => {
    const marker = path.join(dir, 'should-not-exist')
    const outcome = await run(`touch ${marker}`, { signal: AbortSignal.abort() })
    expect(outcome).toMatchObject({ cancelled: true, exitCode: null, output: '', truncated: false })
    expect(existsSync(marker)).toBe(false)
  })

  it('keeps the tail of a long output, with a note first', async () => {
    const outcome = await run('head -c 300000 /dev/zero | tr "\\0" a; echo; echo END', { maxOutputBytes: 1_000 })
    expect(outcome.truncated).toBe(true)
    const newline = outcome.output.indexOf('\n')
    const note = outcome.output.slice(0, newline)
    const body = outcome.output.slice(newline + 1)
    expect(note).toMatch(/truncated/)
    expect(note).toContain(`${300_000 + '\nEND\n'.length - 1_000} earlier bytes dropped`)
    expect(Buffer.byteLength(body)).toBe(1_000)
    expect(body.endsWith('a\nEND\n')).toBe(true)
  })

  it('cuts the tail on a character boundary', async () => {
    // 200 two-byte characters; an odd cap would start inside one.
    const outcome = await run("i=0; while [ $i -lt 200 ]; do printf '\\303\\251'; i=$((i+1)); done", { maxOutputBytes: 101 })
    expect(outcome.truncated).toBe(true)
    const body = outcome.output.slice(outcome.output.indexOf('\n') + 1)
    expect(body).toBe('é'.repeat(50))
  })

  it('streams output live, the same text as the outcome', async () => {
    const chunks: string[] = []
    const outcome = await run('for i in 1 2 3; do echo "line $i"; done; echo "ünïcødé" >&2', { onOutput: (chunk) => { chunks.push(chunk) } })
    expect(chunks.join('')).toBe(outcome.output)
    expect(outcome.output).toBe('line 1\nline 2\nline 3\nünïcødé\n')
  })

  it('streams the pipe\'s bytes when asked, each chunk whole characters of valid UTF-8, the same as the outcome', async () => {
    const chunks: Buffer[] = []
    // A 4-byte character written in two halves with a pause between: two pipe reads, one character.
    const script = 'printf "a\\360\\237"; sleep 0.1; printf "\\230\\200b\\n"; printf "bad \\377 byte\\n"'
    const outcome = await run(script, { onOutputBytes: (chunk) => { chunks.push(chunk) }, onOutput: () => { throw new Error('text asked for') } })
    expect(chunks.length).toBeGreaterThanOrEqual(2)
    for (const chunk of chunks) expect(chunk.toString('utf8')).not.toMatch(/^\uFFFD|\uFFFD$/)
    expect(Buffer.concat(chunks).toString('utf8')).toBe(outcome.output)
    // An invalid byte becomes U+FFFD, as decoding to text does; the bytes handed on say so too.
    expect(outcome.output).toBe('a😀b\nbad \uFFFD byte\n')
  })

  it('finds where the last whole character ends', () => {
    expect(completeUtf8End(Buffer.from('ab'))).toBe(2)
    expect(completeUtf8End(Buffer.from([0x61, 0xf0, 0x9f, 0x98]))).toBe(1)
    expect(completeUtf8End(Buffer.from([0x61, 0xf0, 0x9f, 0x98, 0x80]))).toBe(5)
    expect(completeUtf8End(Buffer.from([0x61, 0xc3]))).toBe(1)
    expect(completeUtf8End(Buffer.from([0xc3, 0xa9]))).toBe(2)
  })

  it('survives a listener that throws', async () => {
    const outcome = await run('echo hi', { onOutput: () => { throw new Error('listener failed') } })
    expect(outcome).toMatchObject({ exitCode: 0, output: 'hi\n' })
  })

  it('throws CommandCwdError naming a missing cwd', async () => {
    const missing = path.join(dir, 'no-such-dir')
    await expect(runCommand({ command: 'true', cwd: missing, env: {}, timeoutMs: 1_000 }))
      .rejects.toMatchObject({ name: 'CommandCwdError', cwd: missing, message: expect.stringContaining(missing) })
  })

  it('throws CommandCwdError when cwd is a file', async () => {
    const file = path.join(dir, 'a-file')
    writeFileSync(file, 'x')
    await expect(runCommand({ command: 'true', cwd: file, env: {}, timeoutMs: 1_000 }))
      .rejects.toMatchObject({ name: 'CommandCwdError', message: expect.stringContaining('not a directory') })
  })
})

describe('scrubbedEnv', () => {
  it('keeps only the allowed keys that are set, plus the extras', () => {
    process.env.GITMESH_TEST_SECRET_TOKEN = 'x'
    try {
      const env = scrubbedEnv({ GITMESH_JOB_ID: 'j' })
      const expected = PASSED_ENV_KEYS.filter(key => process.env[key] !== undefined)
      expect(Object.keys(env).sort()).toEqual([...expected, 'GITMESH_JOB_ID'].sort())
      expect(env.PATH).toBe(process.env.PATH)
    } finally {
      delete process.env.GITMESH_TEST_SECRET_TOKEN
    }
  })

  it('lets an extra override an inherited value', () => {
    expect(scrubbedEnv({ HOME: '/nonexistent-home' }).HOME).toBe('/nonexistent-home')
  })
})
