import { boundedUsage, jsonLines, lastLine, number, retryAfterFromText, shortMessage, sum, text } from './parse.js'
import type { AgentPreset, GeneratorOutcome, GeneratorVerdict } from './preset.js'

/*
 * Codex CLI's non-interactive `exec`. It exits 1 for every failure, so the verdict comes from the
 * failing turn's message (`turn.failed`, or the last `error` event), matched against the strings
 * codex-rs builds for a 401 and for a 429 or a spent quota.
 */

const AUTH_TEXT = /\b401\b|Unauthorized|invalid_api_key|Incorrect API key|missing api key|API key is invalid|configured API key is invalid|refresh token/i
const RATE_TEXT = /\b429\b|Too Many Requests|usage limit|Quota exceeded|rate limit/i

export const codex: AgentPreset = {
  name: 'codex',
  // `-` reads the prompt from stdin; the worktree may be outside what codex trusts, hence the check skipped.
  command: 'codex exec --json --sandbox workspace-write --skip-git-repo-check - < "$GITMESH_PROMPT_FILE"',
  versionCommand: 'codex --version',
  keyEnv: ['CODEX_API_KEY'],
  judge: judgeCodex,
  usage (output) {
    const turns = jsonLines(output).filter(e => e.type === 'turn.completed')
    return boundedUsage({
      inputTokens: sum(turns.map(t => number(t, 'usage', 'input_tokens'))),
      outputTokens: sum(turns.map(t => number(t, 'usage', 'output_tokens')))
    })
  }
}

function judgeCodex (outcome: GeneratorOutcome): GeneratorVerdict {
  const events = jsonLines(outcome.output)
  const failedTurn = events.findLast(e => e.type === 'turn.failed')
  const lastError = events.findLast(e => e.type === 'error')
  const words = text(failedTurn, 'error', 'message') ?? text(lastError, 'message')
  const completed = events.some(e => e.type === 'turn.completed')
  if (!outcome.timedOut && outcome.exitCode === 0 && failedTurn === undefined && completed) return { kind: 'ok' }
  const message = shortMessage(words ?? lastLine(outcome.output))
  if (words !== undefined && AUTH_TEXT.test(words) && !RATE_TEXT.test(words)) return { kind: 'auth', message }
  if (words !== undefined && RATE_TEXT.test(words)) {
    const retryAfterMs = retryAfterFromText(words)
    return { kind: 'rate-limit', message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
  }
  return { kind: 'failed', message }
}
