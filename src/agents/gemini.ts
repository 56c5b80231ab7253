import { boundedUsage, jsonLines, lastLine, number, retryAfterFromText, shortMessage, text } from './parse.js'
import type { AgentPreset, GeneratorOutcome, GeneratorVerdict } from './preset.js'

/*
 * Gemini CLI headless. Exit 41 is its FatalAuthenticationError (no usable auth configured); a key
 * refused by the API and a quota both end in a `result` event with `status: "error"` and an error
 * type, whose exit code is not to be relied on (a 429 may become exit 173).
 */

const EXIT_AUTH = 41
const QUOTA_TYPES = new Set(['TerminalQuotaError', 'RetryableQuotaError'])
const AUTH_TEXT = /API key not valid|API_KEY_INVALID|UNAUTHENTICATED|\b401\b|PERMISSION_DENIED|Please set an Auth method|must specify the GEMINI_API_KEY/i
const RATE_TEXT = /\b429\b|RESOURCE_EXHAUSTED|exceeded your current quota|rate limit/i

export const gemini: AgentPreset = {
  name: 'gemini',
  // Piped stdin is the prompt and `-p` is appended after it: a fixed instruction keeps the run
  // non-interactive without putting the prompt on the command line (argv limit).
  command: 'gemini -p "Carry out the task above." --output-format stream-json --approval-mode=yolo --skip-trust < "$GITMESH_PROMPT_FILE"',
  versionCommand: 'gemini --version',
  keyEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GOOGLE_GENAI_USE_VERTEXAI', 'GOOGLE_CLOUD_PROJECT', 'GOOGLE_CLOUD_LOCATION'],
  judge: judgeGemini,
  usage (output) {
    const result = jsonLines(output).findLast(e => e.type === 'result')
    if (result === undefined) return undefined
    return boundedUsage({ inputTokens: number(result, 'stats', 'input_tokens'), outputTokens: number(result, 'stats', 'output_tokens') })
  }
}

function judgeGemini (outcome: GeneratorOutcome): GeneratorVerdict {
  const result = jsonLines(outcome.output).findLast(e => e.type === 'result')
  const errorType = text(result, 'error', 'type')
  const words = text(result, 'error', 'message')
  const message = shortMessage(words ?? lastLine(outcome.output))
  if (outcome.exitCode === EXIT_AUTH) return { kind: 'auth', message }
  if (text(result, 'status') === 'error' || (outcome.exitCode !== 0 && !outcome.timedOut)) {
    const said = words ?? outcome.output
    if ((errorType !== undefined && QUOTA_TYPES.has(errorType)) || RATE_TEXT.test(said)) {
      const retryAfterMs = retryAfterFromText(said)
      return { kind: 'rate-limit', message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
    }
    if (AUTH_TEXT.test(said)) return { kind: 'auth', message }
    return { kind: 'failed', message }
  }
  if (outcome.timedOut || result === undefined) return { kind: 'failed', message: outcome.timedOut ? message : `no result event: ${message}` }
  return { kind: 'ok' }
}
