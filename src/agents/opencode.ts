import { boundedUsage, jsonLines, lastLine, number, retryAfterFromText, shortMessage, sum, text } from './parse.js'
import type { AgentPreset, GeneratorOutcome, GeneratorVerdict } from './preset.js'

/*
 * opencode's `run`. A refused key ends in an `error` event (ProviderAuthError, or an APIError
 * with status 401/403) and exit 1. A rate limit is retried inside opencode without end, so the run
 * only ends at the generator timeout; `--print-logs --log-level ERROR` puts the provider's 429 on
 * stderr, where this judge finds it and calls the timeout a rate limit.
 */

const RATE_TEXT = /statusCode"?\s*[:=]\s*429|\b429 Too Many Requests|rate limit/i

export const opencode: AgentPreset = {
  name: 'opencode',
  // No message words: opencode reads piped stdin to its end and takes it as the message.
  command: 'opencode run --format json --auto --print-logs --log-level ERROR < "$GITMESH_PROMPT_FILE"',
  versionCommand: 'opencode --version',
  keyEnv: ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'OPENROUTER_API_KEY'],
  judge: judgeOpencode,
  usage (output) {
    const steps = jsonLines(output).filter(e => e.type === 'step_finish')
    return boundedUsage({
      inputTokens: sum(steps.map(s => number(s, 'part', 'tokens', 'input'))),
      // Reasoning tokens are billed as output.
      outputTokens: sum(steps.map(s => sum([number(s, 'part', 'tokens', 'output'), number(s, 'part', 'tokens', 'reasoning')]))),
      costUsd: sum(steps.map(s => number(s, 'part', 'cost')))
    })
  }
}

function judgeOpencode (outcome: GeneratorOutcome): GeneratorVerdict {
  const error = jsonLines(outcome.output).findLast(e => e.type === 'error')
  const name = text(error, 'error', 'name')
  const status = number(error, 'error', 'data', 'statusCode')
  const words = text(error, 'error', 'data', 'message') ?? text(error, 'error', 'message')
  const message = shortMessage(words ?? lastLine(outcome.output))
  if (name === 'ProviderAuthError' || status === 401 || status === 403) return { kind: 'auth', message }
  if (status === 429 || (outcome.timedOut && RATE_TEXT.test(outcome.output))) {
    const retryAfterMs = retryAfterFromText(outcome.output)
    return { kind: 'rate-limit', message: status === 429 ? message : 'timed out while the provider answered 429 (rate limited)', ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
  }
  if (error !== undefined || outcome.timedOut || outcome.exitCode !== 0) return { kind: 'failed', message }
  return { kind: 'ok' }
}
