import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCli, type DaemonProcess } from '../../src/demo/processes.js'
import { git, JobRig, type JobView } from '../helpers/job-rig.js'
import { MAX_RATE_LIMIT_WAITS } from '../../src/agents/constants.js'

/**
 * Every agent preset end to end: real daemons, a builder per preset (`--agent NAME`) whose PATH
 * finds the stand-in of test/fixtures/agents, and four jobs per preset (a pass, a retry with the
 * test output, a refused key, a rate limit), all offered at once so the builders run them side
 * by side. The stand-ins check the preset's flags and read the prompt as the real agent does.
 */

const STANDINS = fileURLToPath(new URL('../fixtures/agents', import.meta.url))

/** What each stand-in reports for one run, as its preset reads it. */
const USAGE: Record<string, { inputTokens: number, outputTokens: number, costUsd: number | null }> = {
  claude: { inputTokens: 1600, outputTokens: 345, costUsd: 0.0123 },
  codex: { inputTokens: 2400, outputTokens: 120, costUsd: null },
  aider: { inputTokens: 1200, outputTokens: 345, costUsd: 0.0089 },
  gemini: { inputTokens: 1500, outputTokens: 200, costUsd: null },
  opencode: { inputTokens: 900, outputTokens: 100, costUsd: 0.004 }
}

/** The agent's own words for a refused key, as its stand-in prints them. */
const AUTH_WORDS: Record<string, string> = {
  claude: 'Invalid API key · Fix external API key',
  codex: 'unexpected status 401 Unauthorized: Incorrect API key provided',
  aider: 'The API provider is not able to authenticate you. Check your API key.',
  gemini: 'Please set an Auth method',
  opencode: 'Invalid API key'
}

const PRESETS = Object.keys(USAGE)
const CASES = ['pass', 'retry', 'auth', 'rate'] as const

function prompt (agent: string, kind: typeof CASES[number]): string {
  const file = kind === 'retry' ? 'greet.txt' : `${agent}-${kind}.txt`
  // The rig's test fails on a greet.txt without "hello world" and prints the corrected block.
  const content = kind === 'retry' ? 'hi' : `made by ${agent}`
  const standin = kind === 'auth' ? '\nSTANDIN: auth-failure\n' : kind === 'rate' ? '\nSTANDIN: rate-limit-once\n' : ''
  return `${agent} ${kind}: write ${file}\n${standin}\n\`\`\`txt path=${file}\n${content}\n\`\`\`\n`
}

describe('agent presets end to end, with stand-ins named like the agents', () => {
  let rig: JobRig
  const builders: Record<string, DaemonProcess> = {}
  const jobs: Record<string, JobView> = {}

  beforeAll(async () => {
    rig = await JobRig.start(['--agent', PRESETS[0]!, '--slots', '2'], { env: { PATH: `${STANDINS}:${process.env.PATH ?? ''}` } })
    builders[PRESETS[0]!] = rig.builder
    // One at a time: builders and the author dialling each other all at once made an offer fail
    // now and then (PeerUnreachableError) on a loaded machine.
    for (const agent of PRESETS.slice(1)) builders[agent] = await rig.addBuilder(['--agent', agent, '--slots', '2'])
    const config = path.join(rig.repo, 'gitmesh.json')
    const usual = await readFile(config, 'utf8')
    const offer = async (agent: string, kind: typeof CASES[number]): Promise<void> => {
      jobs[`${agent}-${kind}`] = await rig.offer(prompt(agent, kind), ['--name', `${agent}-${kind}`, '--builder', builders[agent]!.peerId])
    }
    // opencode retries a 429 without end: only the generator timeout ends that run, so its
    // rate-limit job gets a short one (the snapshot takes gitmesh.json as it is at the offer).
    await writeFile(config, JSON.stringify({ ...JSON.parse(usual), timeouts: { generate: '4s', test: '30s' } }) + '\n')
    await offer('opencode', 'rate')
    await writeFile(config, usual)
    await Promise.all(PRESETS.flatMap(agent => CASES.filter(kind => agent !== 'opencode' || kind !== 'rate').map(async kind => { await offer(agent, kind) })))
  }, 240_000)

  afterAll(async () => {
    await rig?.stop()
  })

  const ended = async (name: string): Promise<JobView> => await rig.waitFor(name, ['returned', 'failed'], 90_000)
  const shown = async (name: string): Promise<JobView> => await rig.cli<JobView>(['show', name, '--log'])

  describe.each(PRESETS)('--agent %s', agent => {
    it('passes: the edit is committed and the usage the agent reported is shown per attempt and per job', async () => {
      const job = await ended(`${agent}-pass`)
      expect(job.state, job.reason ?? '').toBe('returned')
      expect(job.result?.passed).toBe(true)
      expect(git(rig.repo, 'cat-file', '-p', `${job.result!.commit}:${agent}-pass.txt`)).toBe(`made by ${agent}`)
      // nothing of the agent's own (aider's chat history) lands in the result
      expect(git(rig.repo, 'diff', '--name-only', job.snapshot, job.result!.commit)).toBe(`${agent}-pass.txt`)
      const expected = USAGE[agent]!
      expect(job.attempts).toEqual([expect.objectContaining({ number: 1, passed: true, ...expected })])
      expect(job.usage).toEqual(expected)
      const text = await runCli(rig.authorHome, ['show', job.name])
      expect(text.stdout).toMatch(new RegExp(`attempt 1: passed in [\\d.]+ s, [\\d.]+k? in, \\d+ out${expected.costUsd === null ? '' : ', \\$'}`))
    })

    it('retries with the test output appended: attempt 2 sees it and passes', async () => {
      const job = await ended(`${agent}-retry`)
      expect(job.state, job.reason ?? '').toBe('returned')
      expect(job.result?.passed).toBe(true)
      expect(git(rig.repo, 'cat-file', '-p', `${job.result!.commit}:greet.txt`)).toBe('hello world')
      const logged = await shown(job.name)
      expect(logged.attempts.map(a => a.passed)).toEqual([false, true])
      // each stand-in echoes the last heading of its prompt: attempt 2's is the builder's note on attempt 1
      expect(logged.attempts[0]!.log).toContain('Prompt ends with: (no heading)')
      expect(logged.attempts[1]!.log).toContain('Prompt ends with: ## Attempt 1: the tests failed')
      const expected = USAGE[agent]!
      expect(job.usage).toEqual({
        inputTokens: expected.inputTokens * 2,
        outputTokens: expected.outputTokens * 2,
        costUsd: expected.costUsd === null ? null : expect.closeTo(expected.costUsd * 2, 9)
      })
    })

    it('fails the job at once on a refused key, with the agent\'s message, after one attempt', async () => {
      const job = await ended(`${agent}-auth`)
      expect(job.state).toBe('failed')
      expect(job.reason).toContain('AgentAuthError')
      expect(job.reason).toContain(AUTH_WORDS[agent])
      expect(job.result).toBeNull()
      expect(job.attempts).toHaveLength(1)
      expect(job.attempts[0]!.passed).toBe(false)
    })

    it('waits out a rate limit and reruns the same attempt: the job passes on attempt 1', async () => {
      const job = await ended(`${agent}-rate`)
      expect(job.state, job.reason ?? '').toBe('returned')
      expect(job.result?.passed).toBe(true)
      expect(git(rig.repo, 'cat-file', '-p', `${job.result!.commit}:${agent}-rate.txt`)).toBe(`made by ${agent}`)
      const logged = await shown(job.name)
      expect(logged.attempts).toHaveLength(1)
      expect(logged.attempts[0]!.log).toMatch(/\[gitmesh: rate limited: waiting \d+ s/)
    })
  })

  it('shows a rate-limit wait as the job\'s progress while it lasts', async () => {
    const job = await rig.offer(prompt('claude', 'rate').replace('claude-rate.txt', 'claude-wait.txt'), ['--name', 'claude-wait', '--builder', builders.claude!.peerId])
    const waiting = await rig.waitForView(job.name, view => /rate limited: waiting \d+ s/.test(view.progress ?? ''), 'a rate-limit progress line', 60_000)
    expect(waiting.progress).toMatch(/^attempt 1\/3: rate limited: waiting \d+ s \(API Error: Rate limit reached\)$/)
    expect(waiting.state).toBe('generating')
    expect((await ended(job.name)).state).toBe('returned')
  })

  it('fails the job with the agent\'s message once a rate limit outlasts every allowed wait', async () => {
    const job = await rig.offer('claude always limited\n\nSTANDIN: rate-limit-always\n', ['--name', 'claude-limited', '--builder', builders.claude!.peerId])
    const failed = await rig.waitFor(job.name, ['returned', 'failed'], 90_000)
    expect(failed.state).toBe('failed')
    expect(failed.reason).toBe(`AgentRateLimitError: claude stayed rate limited after ${MAX_RATE_LIMIT_WAITS} waits: API Error: Rate limit reached`)
    const logged = await shown(job.name)
    expect(logged.attempts).toHaveLength(1)
    expect(logged.attempts[0]!.log!.match(/\[gitmesh: rate limited: waiting/g)).toHaveLength(MAX_RATE_LIMIT_WAITS)
  })

  it('lists the summed usage in a column of `gitmesh jobs` and in its --json', async () => {
    await rig.waitForJobs(all => all.every(job => ['returned', 'failed'].includes(job.state)), 'every job ended', 90_000)
    const listed = await rig.cli<JobView[]>(['jobs'])
    expect(listed.find(job => job.name === 'claude-pass')?.usage).toEqual(USAGE.claude)
    const text = await runCli(rig.authorHome, ['jobs'])
    expect(text.stdout).toMatch(/│ elapsed\s*│ usage\s*│ result/)
    expect(text.stdout).toMatch(/claude-pass .*1\.6k in, 345 out, \$0\.0123/)
  })
})

describe('gitmesh daemon --agent', () => {
  it('refuses an unknown preset, naming the presets, and --agent with --generate', async () => {
    const unknown = await runCli('/nonexistent/home', ['daemon', '--builder', '--agent', 'cursor'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown agent "cursor": the presets are claude, codex, aider, gemini, opencode')
    const both = await runCli('/nonexistent/home', ['daemon', '--builder', '--agent', 'claude', '--generate', 'true'])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('one of --agent NAME or --generate COMMAND')
  })
})
