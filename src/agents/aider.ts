import { boundedUsage, lastLine, retryAfterFromText, shortMessage } from './parse.js'
import type { AgentPreset, GeneratorOutcome, GeneratorVerdict } from './preset.js'

/*
 * aider with one message. It prints text only and exits 0 even when every call to the model
 * failed, so the verdict comes from the lines aider prints for litellm's exceptions.
 */

const AUTH_LINE = /The API provider is not able to authenticate you[^\n]*|Permission was denied\. Check your API key[^\n]*|Insufficient credits with the API provider[^\n]*/
const RATE_LINE = /The API provider has rate limited you[^\n]*/
/** litellm's exception text, printed before aider's own line for any failed call. */
const LITELLM_ERROR = /^litellm\.\w+Error:[^\n]*/m
const TOKENS = /Tokens: ([\d.]+k?) sent(?:, [\d.]+k? cache write)?(?:, [\d.]+k? cache hit)?, ([\d.]+k?) received\.(?:\s+Cost: \$([\d.]+) message, \$([\d.]+) session\.)?/g

export const aider: AgentPreset = {
  name: 'aider',
  // The chat transcript goes beside the prompt file, not into the worktree (it would be committed);
  // the model comes from AIDER_MODEL (every aider flag has an AIDER_ variable).
  command: 'aider --message-file "$GITMESH_PROMPT_FILE" --yes-always --no-auto-commits --no-dirty-commits --no-gitignore --no-pretty --no-stream --no-fancy-input --no-check-update --analytics-disable --no-show-model-warnings --chat-history-file "$GITMESH_PROMPT_FILE.chat.md" --input-history-file "$GITMESH_PROMPT_FILE.input" < /dev/null',
  versionCommand: 'aider --version',
  keyEnv: ['AIDER_MODEL', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'OPENROUTER_API_KEY', 'DEEPSEEK_API_KEY'],
  judge: judgeAider,
  usage (output) {
    let input: number | undefined
    let outputTokens: number | undefined
    let session: number | undefined
    for (const match of output.matchAll(TOKENS)) {
      input = (input ?? 0) + count(match[1]!)
      outputTokens = (outputTokens ?? 0) + count(match[2]!)
      // The session figure is aider's running total for the process: the last one is the run's cost.
      if (match[4] !== undefined) session = Number(match[4])
    }
    return boundedUsage({ inputTokens: input, outputTokens, costUsd: session })
  }
}

function judgeAider (outcome: GeneratorOutcome): GeneratorVerdict {
  const auth = AUTH_LINE.exec(outcome.output)
  if (auth !== null) return { kind: 'auth', message: shortMessage(auth[0]) }
  const rate = RATE_LINE.exec(outcome.output)
  if (rate !== null) {
    // The provider's own words (in litellm's line) may say how long to wait; aider's line never does.
    const retryAfterMs = retryAfterFromText(LITELLM_ERROR.exec(outcome.output)?.[0] ?? '')
    return { kind: 'rate-limit', message: shortMessage(rate[0]), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }
  }
  if (outcome.timedOut || outcome.exitCode !== 0) return { kind: 'failed', message: lastLine(outcome.output) }
  const other = LITELLM_ERROR.exec(outcome.output)
  if (other !== null) return { kind: 'failed', message: shortMessage(other[0]) }
  return { kind: 'ok' }
}

/** aider's token counts: `345`, `12k`, `1.2k`. */
function count (figure: string): number {
  return figure.endsWith('k') ? Number(figure.slice(0, -1)) * 1000 : Number(figure)
}
