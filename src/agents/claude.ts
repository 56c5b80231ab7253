import { boundedUsage, jsonLines, lastLine, number, shortMessage, text, type JsonEvent } from './parse.js'
import type { AgentPreset, GeneratorOutcome, GeneratorVerdict } from './preset.js'

/*
 * Claude Code in print mode. The exit code does not classify failures (401, 429 and 500 all end
 * with 1, and some API errors end with 0 and `is_error: true`), so the verdict comes from the
 * stream: the assistant message's `error`, the result's `api_error_status`, a rejected
 * `rate_limit_event`, and only then the words of the result.
 */

const AUTH_ERRORS = new Set(['authentication_failed', 'billing_error'])
const AUTH_TEXT = /Invalid API key|Not logged in|Please run \/login|authentication_failed|OAuth token (?:has )?expired/i
const RATE_TEXT = /Rate limit reached|API Error: 429|rate_limit_error|usage limit reached/i

export const claude: AgentPreset = {
  name: 'claude',
  // stdin carries the prompt (no argv limit); stream-json in print mode needs --verbose.
  command: 'claude -p --output-format stream-json --verbose --permission-mode bypassPermissions < "$GITMESH_PROMPT_FILE"',
  versionCommand: 'claude --version',
  keyEnv: ['ANTHROPIC_API_KEY', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_AUTH_TOKEN'],
  judge: judgeClaude,
  usage (output) {
    const result = jsonLines(output).findLast(e => e.type === 'result')
    if (result === undefined) return undefined
    const input = ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'].map(key => number(result, 'usage', key))
    return boundedUsage({
      inputTokens: input.every(n => n === undefined) ? undefined : input.reduce<number>((a, b) => a + (b ?? 0), 0),
      outputTokens: number(result, 'usage', 'output_tokens'),
      costUsd: number(result, 'total_cost_usd')
    })
  }
}

function judgeClaude (outcome: GeneratorOutcome): GeneratorVerdict {
  const events = jsonLines(outcome.output)
  const result = events.findLast(e => e.type === 'result')
  const failedAssistant = events.findLast(e => e.type === 'assistant' && typeof e.error === 'string')
  const rejected = events.findLast(e => e.type === 'rate_limit_event' && text(e, 'rate_limit_info', 'status') === 'rejected')
  const words = text(result, 'result') ?? assistantText(failedAssistant) ?? lastLine(outcome.output)
  const message = shortMessage(words)
  const errorKind = text(failedAssistant, 'error')
  if ((errorKind !== undefined && AUTH_ERRORS.has(errorKind)) || (isFailure(outcome, result) && AUTH_TEXT.test(words))) {
    return { kind: 'auth', message }
  }
  if (errorKind === 'rate_limit' || number(result, 'api_error_status') === 429 || rejected !== undefined || (isFailure(outcome, result) && RATE_TEXT.test(words))) {
    const resetsAt = number(rejected, 'rate_limit_info', 'resetsAt')
    return { kind: 'rate-limit', message, ...(resetsAt !== undefined ? { retryAfterMs: resetsAt * 1000 - Date.now() } : {}) }
  }
  if (isFailure(outcome, result)) return { kind: 'failed', message: result === undefined && !outcome.timedOut ? `no result event: ${message}` : message }
  return { kind: 'ok' }
}

function isFailure (outcome: GeneratorOutcome, result: JsonEvent | undefined): boolean {
  return outcome.timedOut || outcome.exitCode !== 0 || result === undefined || result.is_error === true || text(result, 'subtype') !== 'success'
}

function assistantText (event: JsonEvent | undefined): string | undefined {
  const content = (event?.message as JsonEvent | undefined)?.content
  if (!Array.isArray(content)) return undefined
  const parts = content.map(part => text(part, 'text')).filter((t): t is string => t !== undefined)
  return parts.length === 0 ? undefined : parts.join(' ')
}
