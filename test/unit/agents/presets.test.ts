import { describe, expect, it } from 'vitest'
import { agentPreset, AGENT_NAMES, UnknownAgentError } from '../../../src/agents/index.js'

/*
 * Each preset's judge and usage reader on outputs shaped as the agents document them (the
 * samples of /work/research/agents.md and the agents' own docs and issues), stdout and stderr
 * mixed as the builder captures them.
 */

const lines = (...events: unknown[]): string => events.map(e => typeof e === 'string' ? e : JSON.stringify(e)).join('\n') + '\n'
const ok = (output: string, exitCode = 0): { exitCode: number, timedOut: boolean, output: string } => ({ exitCode, timedOut: false, output })

describe('the registry', () => {
  it('has the five presets, each reading its prompt from $GITMESH_PROMPT_FILE with stdin under control', () => {
    expect(AGENT_NAMES).toEqual(['claude', 'codex', 'aider', 'gemini', 'opencode'])
    for (const name of AGENT_NAMES) {
      const preset = agentPreset(name)
      expect(preset.command).toContain('"$GITMESH_PROMPT_FILE"')
      // stdin is the prompt file or /dev/null: never a pipe left open (codex and opencode read it to its end)
      expect(preset.command).toMatch(/< (?:"\$GITMESH_PROMPT_FILE"|\/dev\/null)$/)
      expect(preset.versionCommand).toBe(`${name} --version`)
    }
  })

  it('names the presets when a name is unknown', () => {
    expect(() => agentPreset('cursor')).toThrow(UnknownAgentError)
    expect(() => agentPreset('cursor')).toThrow('the presets are claude, codex, aider, gemini, opencode')
  })
})

describe('claude', () => {
  const claude = agentPreset('claude')
  const init = { type: 'system', subtype: 'init', session_id: 's', model: 'claude-opus-4-5-20251101' }
  const success = { type: 'result', subtype: 'success', is_error: false, duration_ms: 16049, num_turns: 8, result: 'Done.', session_id: 's', total_cost_usd: 0.3464, usage: { input_tokens: 8, cache_creation_input_tokens: 192, cache_read_input_tokens: 17004, output_tokens: 32 }, permission_denials: [] }

  it('reads a success from the result event, and its cost and tokens (cache reads and writes count as input)', () => {
    const output = lines(init, 'some stderr noise', '{"type":"assistant", broken', success)
    expect(claude.judge(ok(output))).toEqual({ kind: 'ok' })
    expect(claude.usage(output)).toEqual({ inputTokens: 17204, outputTokens: 32, costUsd: 0.3464 })
  })

  it('calls an API error that exits 0 with is_error a failure, not a success', () => {
    const output = lines(init, { ...success, is_error: true, result: 'API Error: 500 Internal server error', api_error_status: 500 })
    expect(claude.judge(ok(output))).toEqual({ kind: 'failed', message: 'API Error: 500 Internal server error' })
  })

  it('reads a refused key from the assistant message\'s error, whatever the exit code', () => {
    const words = 'Invalid API key · Fix external API key'
    const output = lines(init, { type: 'assistant', message: { model: '<synthetic>', content: [{ type: 'text', text: words }] }, error: 'authentication_failed' }, { ...success, is_error: true, result: words, total_cost_usd: 0 })
    expect(claude.judge(ok(output, 1))).toEqual({ kind: 'auth', message: words })
    expect(claude.judge(ok(output, 0))).toEqual({ kind: 'auth', message: words })
  })

  it('reads a rate limit from api_error_status or a rejected rate_limit_event, with the reset time as the wait', () => {
    const now = Date.now()
    const output = lines(init, { type: 'rate_limit_event', rate_limit_info: { status: 'rejected', resetsAt: Math.round(now / 1000) + 60 } }, { ...success, is_error: true, result: 'API Error: Rate limit reached', api_error_status: 429 })
    const verdict = claude.judge(ok(output, 1))
    expect(verdict).toMatchObject({ kind: 'rate-limit', message: 'API Error: Rate limit reached' })
    expect(verdict.retryAfterMs).toBeGreaterThan(55_000)
    expect(verdict.retryAfterMs).toBeLessThan(65_000)
    expect(claude.judge(ok(lines(init, { ...success, is_error: true, result: 'API Error: 429 {"type":"error"}', api_error_status: 429 }), 0))).toMatchObject({ kind: 'rate-limit' })
  })

  it('fails a run that printed no result event (killed, or not stream-json)', () => {
    expect(claude.judge(ok('Error: When using --print, --output-format=stream-json requires --verbose\n', 1))).toMatchObject({ kind: 'failed', message: expect.stringContaining('requires --verbose') })
    expect(claude.judge(ok(lines(init), 0))).toMatchObject({ kind: 'failed', message: expect.stringContaining('no result event') })
    expect(claude.usage(lines(init))).toBeUndefined()
  })
})

describe('codex', () => {
  const codex = agentPreset('codex')
  const started = [{ type: 'thread.started', thread_id: '0199a213' }, { type: 'turn.started' }]

  it('reads a success and sums the turns\' tokens; codex reports no cost', () => {
    const output = lines(...started,
      { type: 'item.completed', item: { id: 'item_2', type: 'file_change', changes: [{ path: 'src/a.ts', kind: 'update' }], status: 'completed' } },
      { type: 'item.completed', item: { id: 'item_3', type: 'agent_message', text: 'Done: updated src/a.ts.' } },
      { type: 'turn.completed', usage: { input_tokens: 24763, cached_input_tokens: 24448, output_tokens: 122 } })
    expect(codex.judge(ok(output))).toEqual({ kind: 'ok' })
    expect(codex.usage(output)).toEqual({ inputTokens: 24763, outputTokens: 122 })
  })

  it('reads a 401 as a refused key and a 429 or a spent usage limit as a rate limit', () => {
    const fail = (message: string): string => lines(...started, { type: 'error', message: 'Reconnecting... 1/5' }, { type: 'error', message }, { type: 'turn.failed', error: { message } })
    expect(codex.judge(ok(fail('unexpected status 401 Unauthorized: Incorrect API key provided: sk-abc***'), 1))).toEqual({ kind: 'auth', message: 'unexpected status 401 Unauthorized: Incorrect API key provided: sk-abc***' })
    expect(codex.judge(ok(fail('exceeded retry limit, last status: 429 Too Many Requests, request id: req_x'), 1))).toEqual({ kind: 'rate-limit', message: 'exceeded retry limit, last status: 429 Too Many Requests, request id: req_x' })
    expect(codex.judge(ok(fail("You've hit your usage limit. Try again in 3 minutes."), 1))).toMatchObject({ kind: 'rate-limit', retryAfterMs: 180_000 })
  })

  it('fails a turn that failed otherwise, and a run that ended without a completed turn', () => {
    expect(codex.judge(ok(lines(...started, { type: 'turn.failed', error: { message: 'stream disconnected before completion' } }), 1))).toEqual({ kind: 'failed', message: 'stream disconnected before completion' })
    expect(codex.judge(ok('No prompt provided via stdin.\n', 1))).toEqual({ kind: 'failed', message: 'No prompt provided via stdin.' })
    expect(codex.judge(ok(lines(...started), 0))).toMatchObject({ kind: 'failed' })
  })
})

describe('aider', () => {
  const aider = agentPreset('aider')
  const banner = 'Aider v0.86.3.dev\nModel: gpt-4o with diff edit format\n'

  it('reads a success and its token and cost line (k figures, the session cost)', () => {
    const output = `${banner}Applied edit to src/a.ts\nTokens: 12k sent, 1.2k cache write, 8k cache hit, 345 received. Cost: $0.01 message, $0.05 session.\n`
    expect(aider.judge(ok(output))).toEqual({ kind: 'ok' })
    expect(aider.usage(output)).toEqual({ inputTokens: 12_000, outputTokens: 345, costUsd: 0.05 })
    expect(aider.usage(`${banner}Tokens: 2.4k sent, 156 received.\n`)).toEqual({ inputTokens: 2400, outputTokens: 156 })
    expect(aider.usage(banner)).toBeUndefined()
  })

  it('reads a refused key and a rate limit from its text although it exits 0', () => {
    expect(aider.judge(ok(`${banner}litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key\nThe API provider is not able to authenticate you. Check your API key.\n`))).toEqual({ kind: 'auth', message: 'The API provider is not able to authenticate you. Check your API key.' })
    expect(aider.judge(ok(`${banner}Insufficient credits with the API provider. Please add credits.\n`))).toMatchObject({ kind: 'auth' })
    const limited = `${banner}litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for gpt-4o. Please try again in 6ms.\nRetrying in 0.2 seconds...\nThe API provider has rate limited you. Try again later or check your quotas.\n`
    expect(aider.judge(ok(limited))).toEqual({ kind: 'rate-limit', message: 'The API provider has rate limited you. Try again later or check your quotas.', retryAfterMs: 6 })
    expect(aider.judge(ok(`${banner}The API provider has rate limited you. Try again later or check your quotas.\n`))).toEqual({ kind: 'rate-limit', message: 'The API provider has rate limited you. Try again later or check your quotas.' })
  })

  it('fails another litellm error that exits 0, and a missing message file', () => {
    expect(aider.judge(ok(`${banner}litellm.APIConnectionError: Connection error.\n`))).toEqual({ kind: 'failed', message: 'litellm.APIConnectionError: Connection error.' })
    expect(aider.judge(ok('Message file not found: /x/attempt-1.md\n', 1))).toEqual({ kind: 'failed', message: 'Message file not found: /x/attempt-1.md' })
  })
})

describe('gemini', () => {
  const gemini = agentPreset('gemini')
  const ts = '2026-08-21T10:00:00.000Z'
  const stats = { total_tokens: 1500, input_tokens: 1200, output_tokens: 300, cached: 0, input: 1200, duration_ms: 8123, tool_calls: 1, models: {} }

  it('reads a success and its token stats; gemini reports no cost', () => {
    const output = lines({ type: 'init', timestamp: ts, session_id: 'c0ffee', model: 'gemini-2.5-pro' }, { type: 'message', timestamp: ts, role: 'assistant', content: 'Fixed.', delta: true }, { type: 'result', timestamp: ts, status: 'success', stats })
    expect(gemini.judge(ok(output))).toEqual({ kind: 'ok' })
    expect(gemini.usage(output)).toEqual({ inputTokens: 1200, outputTokens: 300 })
  })

  it('reads exit 41 as a refused key, with its message', () => {
    const said = 'Please set an Auth method in your /root/.gemini/settings.json or specify one of the following environment variables before running: GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA'
    expect(gemini.judge(ok(`${said}\n`, 41))).toEqual({ kind: 'auth', message: said })
  })

  it('reads the result\'s error: a quota error is a rate limit (with the wait it names), a bad key a refused key', () => {
    const quota = lines({ type: 'result', timestamp: ts, status: 'error', error: { type: 'TerminalQuotaError', message: '[API Error: You exceeded your current quota. Please retry in 17.6s. (Status: RESOURCE_EXHAUSTED)]' }, stats })
    expect(gemini.judge(ok(quota, 173))).toMatchObject({ kind: 'rate-limit', retryAfterMs: 17_600 })
    const key = lines({ type: 'result', timestamp: ts, status: 'error', error: { type: 'Error', message: '[API Error: API key not valid. Please pass a valid API key.]' }, stats })
    expect(gemini.judge(ok(key, 1))).toEqual({ kind: 'auth', message: '[API Error: API key not valid. Please pass a valid API key.]' })
    const other = lines({ type: 'result', timestamp: ts, status: 'error', error: { type: 'FatalTurnLimitedError', message: 'Reached max session turns' }, stats })
    expect(gemini.judge(ok(other, 53))).toEqual({ kind: 'failed', message: 'Reached max session turns' })
  })
})

describe('opencode', () => {
  const opencode = agentPreset('opencode')
  const base = { timestamp: 1755770000000, sessionID: 'ses_abc' }
  const stepFinish = (cost: number, input: number, output: number, reasoning: number): unknown => ({ type: 'step_finish', ...base, part: { type: 'step-finish', reason: 'stop', cost, tokens: { input, output, reasoning, cache: { read: 0, write: 0 } } } })

  it('reads a success and sums the steps\' cost and tokens (reasoning counts as output)', () => {
    const output = lines({ type: 'step_start', ...base, part: { type: 'step-start' } }, stepFinish(0.01, 1000, 200, 50), stepFinish(0.0023, 200, 100, 0), { type: 'done', ...base, reason: 'idle', rejected: [] })
    expect(opencode.judge(ok(output))).toEqual({ kind: 'ok' })
    expect(opencode.usage(output)).toEqual({ inputTokens: 1200, outputTokens: 350, costUsd: expect.closeTo(0.0123, 9) })
  })

  it('reads a 401 APIError or a ProviderAuthError as a refused key', () => {
    expect(opencode.judge(ok(lines({ type: 'error', ...base, error: { name: 'APIError', data: { message: 'Invalid API key', statusCode: 401, isRetryable: false } } }), 1))).toEqual({ kind: 'auth', message: 'Invalid API key' })
    expect(opencode.judge(ok(lines({ type: 'error', ...base, error: { name: 'ProviderAuthError', data: { providerID: 'anthropic', message: 'no key' } } }), 1))).toEqual({ kind: 'auth', message: 'no key' })
  })

  it('calls a timeout a rate limit only when its log shows a 429, with the retry-after header as the wait', () => {
    const log = 'ERROR 2026-08-21T10:00:00 +2ms service=llm error={"statusCode":429,"isRetryable":true,"responseHeaders":{"retry-after":"20"}} stream error\n'
    expect(opencode.judge({ exitCode: null, timedOut: true, output: log })).toMatchObject({ kind: 'rate-limit', retryAfterMs: 20_000 })
    expect(opencode.judge({ exitCode: null, timedOut: true, output: 'working…\n' })).toMatchObject({ kind: 'failed' })
    expect(opencode.judge(ok(lines({ type: 'error', ...base, error: { name: 'UnknownError', data: { message: 'boom' } } }), 1))).toEqual({ kind: 'failed', message: 'boom' })
  })
})
