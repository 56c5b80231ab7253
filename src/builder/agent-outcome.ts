import { setTimeout as sleep } from 'node:timers/promises'
import { MAX_RATE_LIMIT_WAIT_MS, MAX_RATE_LIMIT_WAITS, MIN_RATE_LIMIT_WAIT_MS, RATE_LIMIT_BACKOFF_MS } from '../agents/constants.js'
import type { AgentUsage, Generator, GeneratorVerdict } from '../agents/index.js'
import type { CommandOutcome } from '../process/run-command.js'
import { boundedUsage } from '../agents/parse.js'

/** The agent refused to work for a reason no retry can fix (a bad key, no credit): the job ends with its message. */
export class AgentAuthError extends Error {
  override readonly name = 'AgentAuthError'
}

/** The agent stayed rate limited through every allowed wait: the job ends with its message. */
export class AgentRateLimitError extends Error {
  override readonly name = 'AgentRateLimitError'
}

export interface Generation {
  /** The last run's outcome. */
  outcome: CommandOutcome
  verdict: GeneratorVerdict
  /** Summed over every run of the attempt (a rate-limited run may have cost something too). */
  usage?: AgentUsage
  /** What the waits were, for the attempt's log; empty when there was none. */
  notes: string[]
}

export interface GenerateOptions {
  /** Reports a line of progress (a wait). */
  onWait: (line: string) => void
  signal: AbortSignal
  /**
   * Waits `ms`, or rejects when `signal` aborts.
   * @default a timer
   */
  wait?: (ms: number, signal: AbortSignal) => Promise<void>
}

/**
 * Runs the generator for one attempt and judges it. A rate limit is waited out and the same
 * attempt run again, up to `MAX_RATE_LIMIT_WAITS` times (then the verdict is still
 * `rate-limit`), without using up an attempt: the agent
 * did no work, so the prompt stays as it was. The wait is what the agent asked for, or else
 * `RATE_LIMIT_BACKOFF_MS` doubled per wait, within [MIN_RATE_LIMIT_WAIT_MS, MAX_RATE_LIMIT_WAIT_MS].
 * Cancelling the job ends a wait at once (throws the abort reason).
 */
export async function generateAttempt (generator: Generator, run: () => Promise<CommandOutcome>, options: GenerateOptions): Promise<Generation> {
  const notes: string[] = []
  let usage: AgentUsage | undefined
  for (let waits = 0; ; waits++) {
    const outcome = await run()
    // A run stopped for saying nothing timed out, as far as the agent's verdict goes (opencode hangs on a 429).
    const verdict = generator.judge({ ...outcome, timedOut: outcome.timedOut || outcome.idleTimedOut })
    usage = addUsage(usage, generator.usage(outcome.output))
    // Still rate limited after the last allowed wait: the caller ends the job (AgentRateLimitError).
    if (verdict.kind !== 'rate-limit' || waits >= MAX_RATE_LIMIT_WAITS) return { outcome, verdict, usage: usage === undefined ? undefined : boundedUsage(usage), notes }
    const waitMs = rateLimitWaitMs(verdict.retryAfterMs, waits)
    const line = `rate limited: waiting ${Math.round(waitMs / 1000)} s${verdict.message !== undefined ? ` (${verdict.message})` : ''}`
    notes.push(`[gitmesh: ${line}]`)
    options.onWait(line)
    await (options.wait ?? defaultWait)(waitMs, options.signal)
  }
}

async function defaultWait (ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal })
}

/** The wait before run `waits + 2` of an attempt. */
export function rateLimitWaitMs (retryAfterMs: number | undefined, waits: number): number {
  const wanted = retryAfterMs ?? RATE_LIMIT_BACKOFF_MS * 2 ** waits
  return Math.min(MAX_RATE_LIMIT_WAIT_MS, Math.max(MIN_RATE_LIMIT_WAIT_MS, Math.round(wanted)))
}

function addUsage (a: AgentUsage | undefined, b: AgentUsage | undefined): AgentUsage | undefined {
  if (a === undefined || b === undefined) return a ?? b
  const plus = (x: number | undefined, y: number | undefined): number | undefined => x === undefined && y === undefined ? undefined : (x ?? 0) + (y ?? 0)
  const sum: AgentUsage = {}
  const inputTokens = plus(a.inputTokens, b.inputTokens)
  const outputTokens = plus(a.outputTokens, b.outputTokens)
  const costUsd = plus(a.costUsd, b.costUsd)
  if (inputTokens !== undefined) sum.inputTokens = inputTokens
  if (outputTokens !== undefined) sum.outputTokens = outputTokens
  if (costUsd !== undefined) sum.costUsd = costUsd
  return sum
}
