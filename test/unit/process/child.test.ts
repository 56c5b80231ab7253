import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startChild } from '../../../src/process/child.js'
import { gitEnv, ownEnv, scrubbedEnv } from '../../../src/process/environment.js'
import { GIT_REDIRECT_ENV_KEYS } from '../../../src/process/constants.js'
import { runGit, runGitScript } from '../../../src/git/git-process.js'

let dir: string
beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'gitmesh-child-')) })
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

/** True while `pid` runs; a zombie (killed, not yet reaped where init does not reap) counts as gone. */
function alive (pid: number): boolean {
  try {
    return !/^\S+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'))
  } catch {
    return false
  }
}

/** Starts `script` under sh and returns the pid of a background sleeper it started in its group. */
async function withSleeper (script: string, init: Partial<Parameters<typeof startChild>[0]> = {}): Promise<{ sleeper: number, exit: Awaited<ReturnType<typeof startChild>['exit']> }> {
  const running = startChild({ file: '/bin/sh', args: ['-c', `sleep 30 & echo $!; ${script}`], env: scrubbedEnv(), stdin: 'ignore', timeoutMs: 10_000, ...init })
  const sleeper = await new Promise<number>(resolve => { running.child.stdout!.once('data', (chunk: Buffer) => { resolve(Number(chunk.toString().trim())) }) })
  return { sleeper, exit: await running.exit }
}

describe('startChild: one set of rules for every child process', () => {
  it('ends the whole group on timeout, and says it timed out', async () => {
    const { sleeper, exit } = await withSleeper('sleep 30', { timeoutMs: 200 })
    expect(exit.timedOut).toBe(true)
    expect(exit.cancelled).toBe(false)
    expect(alive(sleeper)).toBe(false)
  })

  it('ends the whole group on abort, and says it was cancelled', async () => {
    const controller = new AbortController()
    setTimeout(() => { controller.abort() }, 100)
    const { sleeper, exit } = await withSleeper('sleep 30', { signal: controller.signal })
    expect(exit.cancelled).toBe(true)
    expect(alive(sleeper)).toBe(false)
  })

  it('ends what a child left running in its group once it exits by itself', async () => {
    const { sleeper, exit } = await withSleeper('exit 3')
    expect(exit).toEqual({ exitCode: 3, signal: null, timedOut: false, cancelled: false })
    expect(alive(sleeper)).toBe(false)
  })

  it('rejects when the program cannot be started', async () => {
    const running = startChild({ file: path.join(dir, 'no-such-program'), args: [], env: scrubbedEnv(), stdin: 'ignore', timeoutMs: 1000 })
    await expect(running.exit).rejects.toThrow(/ENOENT/)
  })
})

describe('environment rules', () => {
  it('untrusted commands get only the passed keys and their own variables', () => {
    process.env.GITMESH_TEST_SECRET = 'token'
    try {
      const env = scrubbedEnv({ GITMESH_JOB_ID: 'abc' })
      expect(env.GITMESH_TEST_SECRET).toBeUndefined()
      expect(env.GITMESH_JOB_ID).toBe('abc')
      expect(env.PATH).toBe(process.env.PATH)
      // The user's own commands (the namer) keep the user's environment.
      expect(ownEnv().GITMESH_TEST_SECRET).toBe('token')
    } finally {
      delete process.env.GITMESH_TEST_SECRET
    }
  })

  it('git never follows a caller\'s GIT_DIR-like variables, never prompts and never pages', () => {
    for (const key of GIT_REDIRECT_ENV_KEYS) process.env[key] = '/elsewhere'
    try {
      const env = gitEnv()
      for (const key of GIT_REDIRECT_ENV_KEYS) expect(env[key], key).toBeUndefined()
      expect(env).toMatchObject({ GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C' })
    } finally {
      for (const key of GIT_REDIRECT_ENV_KEYS) delete process.env[key]
    }
  })
})

describe('git commands run by these rules', () => {
  it('a git command that hangs is ended at its timeout with a clear error', async () => {
    await expect(runGitScript('sleep 30', { cwd: dir, timeoutMs: 200 })).rejects.toMatchObject({ name: 'GitCommandError', message: expect.stringContaining('timed out after 200 ms') })
  })

  it('an aborted git command rejects with the abort reason', async () => {
    const controller = new AbortController()
    const reason = new Error('stop now')
    setTimeout(() => { controller.abort(reason) }, 100)
    await expect(runGitScript('sleep 30', { cwd: dir, signal: controller.signal })).rejects.toBe(reason)
  })

  it('exit codes that are answers are returned, others throw with git\'s message', async () => {
    expect((await runGit(['--version'], { cwd: dir })).stdout.toString()).toMatch(/^git version/)
    await expect(runGit(['rev-parse', 'HEAD'], { cwd: dir })).rejects.toMatchObject({ name: 'GitCommandError' })
    expect((await runGit(['rev-parse', 'HEAD'], { cwd: dir, okExitCodes: [128] })).exitCode).toBe(128)
  })
})
