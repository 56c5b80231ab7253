import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_PATH, runCli } from '../../src/demo/processes.js'
import { git, JobRig, type JobView } from '../helpers/job-rig.js'

const GREET = 'write a greeting file\n\n```txt path=greet.txt\nhello world\n```\n'

/**
 * gitmesh.json's setup on a real author and builder. The setup command builds a deterministic
 * dependency folder (deps/, ignored) from lock.txt and appends a line to a counter file outside
 * every worktree, so the test counts how often it really ran. The generator copies what it finds
 * in deps/ into the result (seen-deps.txt): B shows what the agent saw when it started.
 */
describe('setup: once per job before the generator, cached per builder and repository by the setupKey files', () => {
  let rig: JobRig | undefined
  let scratch: string | undefined
  afterEach(async () => {
    await rig?.stop()
    rig = undefined
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true })
    scratch = undefined
  })

  async function start (): Promise<{ rig: JobRig, counter: string, generated: string, hold: string }> {
    scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-setup-'))
    const counter = path.join(scratch, 'setup-runs')
    const generated = path.join(scratch, 'generator-runs')
    const hold = path.join(scratch, 'hold-setup')
    const generator = `echo run >> '${generated}'; cat deps/lib/version.txt > seen-deps.txt 2>/dev/null || echo missing > seen-deps.txt; exec '${process.execPath}' '${CLI_PATH}' generate-blocks`
    rig = await JobRig.start(['--generate', generator, '--slots', '1'])
    await writeFile(path.join(rig.repo, '.gitignore'), 'deps/\n')
    await writeFile(path.join(rig.repo, 'lock.txt'), 'v1\n')
    return { rig, counter, generated, hold }
  }

  async function configure (rig: JobRig, setup: string): Promise<void> {
    await writeFile(path.join(rig.repo, 'gitmesh.json'), JSON.stringify({ test: 'sh test.sh', attempts: 2, setup, setupKey: ['lock.txt', 'no-such.lock'], timeouts: { generate: '30s', test: '30s', setup: '30s' } }) + '\n')
  }

  const runs = (file: string): number => existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0

  async function passedJob (rig: JobRig, name: string): Promise<{ view: JobView, seen: string, log: string }> {
    await rig.offer(GREET, ['--name', name])
    const view = await rig.waitFor(name, ['returned', 'failed'])
    expect(view.state, view.reason ?? '').toBe('returned')
    expect(view.result?.passed).toBe(true)
    const logged = await rig.cli<JobView>(['show', name, '--log'])
    return { view, seen: git(rig.repo, 'cat-file', '-p', `${view.result!.commit}:seen-deps.txt`), log: logged.attempts[0]!.log ?? '' }
  }

  it('runs setup before the first attempt (state setup), skips it for the same key in a pooled worktree and restores it into a fresh one, and runs it again for a new key', async () => {
    const { rig, counter, hold } = await start()
    await configure(rig, `echo run >> '${counter}'; while [ -e '${hold}' ]; do sleep 0.05; done; mkdir -p deps/lib && cp lock.txt deps/lib/version.txt && echo installed`)

    // The first job holds in setup: the author shows it, with the command, in `show --json`.
    await writeFile(hold, '')
    await rig.offer(GREET, ['--name', 'first'])
    await rig.waitFor('first', ['setup'])
    const during = await rig.show('first')
    expect(during).toMatchObject({ state: 'setup', setup: { command: expect.stringContaining('mkdir -p deps/lib'), key: ['lock.txt', 'no-such.lock'] } })
    expect(during.progress).toContain('setup:')
    await rm(hold)
    const first = await rig.waitFor('first', ['returned', 'failed'])
    expect(first.state, first.reason ?? '').toBe('returned')
    expect(git(rig.repo, 'cat-file', '-p', `${first.result!.commit}:seen-deps.txt`)).toBe('v1')
    // the dependency folder is ignored: it never becomes part of the result
    expect(git(rig.repo, 'ls-tree', '-r', '--name-only', first.result!.commit)).not.toContain('deps/lib/version.txt')
    expect(runs(counter)).toBe(1)
    expect((await rig.cli<JobView>(['show', 'first', '--log'])).attempts[0]!.log).toMatch(/setup ran in \d+ ms; cached as key [0-9a-f]{12}/)

    // Same lock file, the pooled worktree that ran setup: skipped, deps still there.
    const second = await passedJob(rig, 'second')
    expect(second.seen).toBe('v1')
    expect(second.log).toContain('setup skipped: this worktree was set up for key')
    expect(runs(counter)).toBe(1)

    // A restarted builder makes its worktrees anew: the cache fills the fresh one.
    await rig.restart('builder')
    const third = await passedJob(rig, 'third')
    expect(third.seen).toBe('v1')
    expect(third.log).toMatch(/setup skipped: restored key [0-9a-f]{12} from the builder's cache/)
    expect(runs(counter)).toBe(1)

    // A changed lock file is a new key: setup runs again, on a worktree without the old deps.
    await writeFile(path.join(rig.repo, 'lock.txt'), 'v2\n')
    const fourth = await passedJob(rig, 'fourth')
    expect(fourth.seen).toBe('v2')
    expect(fourth.log).toContain('setup ran in')
    expect(runs(counter)).toBe(2)

    // Back to v1: the cache still holds it (a few keys per repository), so nothing runs.
    await writeFile(path.join(rig.repo, 'lock.txt'), 'v1\n')
    const fifth = await passedJob(rig, 'fifth')
    expect(fifth.seen).toBe('v1')
    expect(fifth.log).toContain('restored key')
    expect(runs(counter)).toBe(2)
  }, 180_000)

  it('a failing setup fails the job with its log, and the generator never runs', async () => {
    const { rig, counter, generated } = await start()
    await configure(rig, `echo run >> '${counter}'; echo "cannot install left-pad@9.9.9"; exit 3`)
    await rig.offer(GREET, ['--name', 'broken-setup'])
    const failed = await rig.waitFor('broken-setup', ['failed', 'returned'])
    expect(failed.state).toBe('failed')
    expect(failed.reason).toContain('setup failed (exit 3)')
    const logged = await rig.cli<JobView>(['show', 'broken-setup', '--log'])
    expect(logged.attempts).toHaveLength(1)
    expect(logged.attempts[0]).toMatchObject({ generateMs: 0, testMs: 0, passed: false })
    expect(logged.attempts[0]!.log).toContain('cannot install left-pad@9.9.9')
    expect(runs(counter)).toBe(1)
    expect(runs(generated)).toBe(0)
  }, 60_000)

  it('the builder\'s --idle-timeout stops a generator that goes quiet, and the log and the next prompt say so', async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-idle-'))
    const prompts = path.join(scratch, 'prompts')
    // Attempt 1 prints, then goes quiet far longer than the idle bound; attempt 2 keeps its prompt and writes the file.
    const generator = `cat "$GITMESH_PROMPT_FILE" >> '${prompts}'; if [ "$GITMESH_ATTEMPT" = 1 ]; then echo thinking; exec sleep 60; fi; exec '${process.execPath}' '${CLI_PATH}' generate-blocks`
    // 3 s: long against attempt 1's silence, and longer than a Node.js start on a loaded machine
    // (attempt 2's generate-blocks prints nothing until it has written the file).
    rig = await JobRig.start(['--generate', generator, '--idle-timeout', '3s', '--generate-timeout', '45s'])
    // gitmesh.json sets timeouts.generate but no idle: the builder's --idle-timeout applies
    await rig.offer(GREET, ['--name', 'quiet-agent'])
    const done = await rig.waitFor('quiet-agent', ['returned', 'failed'], 60_000)
    expect(done.result?.passed).toBe(true)
    expect(done.attempts.map(a => a.passed)).toEqual([false, true])
    const logged = await rig.cli<JobView>(['show', 'quiet-agent', '--log'])
    expect(logged.attempts[0]!.log).toContain('[gitmesh: the generator was stopped: no output for 3 seconds]')
    expect(logged.attempts[0]!.generateMs).toBeLessThan(30_000)
    expect(readFileSync(prompts, 'utf8')).toContain('## Attempt 1: the generator failed (stopped: no output for 3 seconds)')
  }, 90_000)

  it('daemon refuses --generate-timeout and --idle-timeout without --builder, and durations it cannot read or out of range, naming the flag', async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-flags-'))
    const cases: Array<[string[], string]> = [
      [['--idle-timeout', '10m'], 'need --builder'],
      [['--builder', '--idle-timeout', 'soon'], '"soon" is not a duration'],
      [['--builder', '--generate-timeout', '7h'], '--generate-timeout must be between 1s and 6h'],
      [['--builder', '--idle-timeout', '500'], '--idle-timeout must be between 1s and 6h']
    ]
    for (const [args, message] of cases) {
      const result = await runCli(scratch, ['daemon', ...args])
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr, args.join(' ')).toContain(message)
    }
  }, 60_000)
})
