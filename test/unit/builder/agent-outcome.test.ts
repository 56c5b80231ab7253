import { describe, expect, it } from 'vitest'
import { agentPreset, commandGenerator, presetGenerator } from '../../../src/agents/index.js'
import { MAX_RATE_LIMIT_WAIT_MS, MAX_RATE_LIMIT_WAITS, MIN_RATE_LIMIT_WAIT_MS, RATE_LIMIT_BACKOFF_MS } from '../../../src/agents/constants.js'
import { generateAttempt, rateLimitWaitMs } from '../../../src/builder/agent-outcome.js'
import { withFeedback } from '../../../src/builder/job-runner.js'
import type { CommandOutcome } from '../../../src/process/run-command.js'

const outcome = (output: string, exitCode: number | null = 0): CommandOutcome => ({ exitCode, signal: null, timedOut: false, idleTimedOut: false, cancelled: false, ms: 10, output, truncated: false })
const codex = presetGenerator(agentPreset('codex'))
const limited = outcome([
  JSON.stringify({ type: 'turn.failed', error: { message: 'exceeded retry limit, last status: 429 Too Many Requests' } }),
  JSON.stringify({ type: 'turn.completed', usage: { input_tokens: 10, output_tokens: 1 } })
].join('\n'), 1)
const done = outcome(JSON.stringify({ type: 'turn.completed', usage: { input_tokens: 100, output_tokens: 20 } }))

/** Runs that answer with `outcomes` in turn. */
function runs (...outcomes: CommandOutcome[]): { run: () => Promise<CommandOutcome>, count: () => number } {
  let n = 0
  return { run: async () => outcomes[Math.min(n++, outcomes.length - 1)]!, count: () => n }
}

describe('generating one attempt', () => {
  it('reruns a rate-limited attempt after a backoff, reports the wait, and sums the usage of both runs', async () => {
    const { run, count } = runs(limited, done)
    const waits: number[] = []
    const lines: string[] = []
    const generation = await generateAttempt(codex, run, { onWait: line => lines.push(line), signal: new AbortController().signal, wait: async ms => { waits.push(ms) } })
    expect(count()).toBe(2)
    expect(generation.verdict).toEqual({ kind: 'ok' })
    expect(generation.usage).toEqual({ inputTokens: 110, outputTokens: 21 })
    expect(waits).toEqual([RATE_LIMIT_BACKOFF_MS])
    expect(lines).toEqual([`rate limited: waiting ${RATE_LIMIT_BACKOFF_MS / 1000} s (exceeded retry limit, last status: 429 Too Many Requests)`])
    expect(generation.notes).toEqual([`[gitmesh: ${lines[0]!}]`])
  })

  it('gives up after the allowed waits, still a rate limit with the agent\'s message, doubling the backoff up to the cap', async () => {
    const { run, count } = runs(limited)
    const waits: number[] = []
    const generation = await generateAttempt(codex, run, { onWait: () => {}, signal: new AbortController().signal, wait: async ms => { waits.push(ms) } })
    expect(generation.verdict).toEqual({ kind: 'rate-limit', message: 'exceeded retry limit, last status: 429 Too Many Requests' })
    expect(generation.notes).toHaveLength(MAX_RATE_LIMIT_WAITS)
    expect(generation.usage).toEqual({ inputTokens: 10 * (MAX_RATE_LIMIT_WAITS + 1), outputTokens: MAX_RATE_LIMIT_WAITS + 1 })
    expect(count()).toBe(MAX_RATE_LIMIT_WAITS + 1)
    expect(waits).toEqual(Array.from({ length: MAX_RATE_LIMIT_WAITS }, (_, i) => Math.min(MAX_RATE_LIMIT_WAIT_MS, RATE_LIMIT_BACKOFF_MS * 2 ** i)))
  })

  it('ends a wait at once when the job is cancelled', async () => {
    const controller = new AbortController()
    const started = Date.now()
    const generating = generateAttempt(codex, runs(limited).run, { onWait: () => { setTimeout(() => { controller.abort() }, 20) }, signal: controller.signal })
    await expect(generating).rejects.toThrow(/abort/i)
    expect(Date.now() - started).toBeLessThan(RATE_LIMIT_BACKOFF_MS / 2)
  })

  it('keeps the agent\'s asked wait within bounds', () => {
    expect(rateLimitWaitMs(5, 0)).toBe(MIN_RATE_LIMIT_WAIT_MS)
    expect(rateLimitWaitMs(-30_000, 0)).toBe(MIN_RATE_LIMIT_WAIT_MS)
    expect(rateLimitWaitMs(24 * 3_600_000, 0)).toBe(MAX_RATE_LIMIT_WAIT_MS)
    expect(rateLimitWaitMs(4_000, 3)).toBe(4_000)
  })

  it('judges a plain --generate command by its exit code alone, with no usage', async () => {
    const plain = commandGenerator('make-it')
    expect((await generateAttempt(plain, runs(outcome('The API provider has rate limited you.', 0)).run, { onWait: () => {}, signal: new AbortController().signal })).verdict).toEqual({ kind: 'ok' })
    const failed = await generateAttempt(plain, runs(outcome('', 3)).run, { onWait: () => {}, signal: new AbortController().signal })
    expect(failed.verdict).toEqual({ kind: 'failed' })
    expect(failed.usage).toBeUndefined()
  })

  it('says in the next prompt why a run that exited 0 failed, in the agent\'s words', () => {
    expect(withFeedback('p', 1, outcome('API Error: 500', 0), 'generator', { said: 'API Error: 500' })).toContain('## Attempt 1: the generator failed (exited with 0: API Error: 500)')
    expect(withFeedback('p', 1, outcome('boom', 3), 'generator', { said: 'boom' })).toContain('## Attempt 1: the generator failed (exited with 3)')
  })
})
