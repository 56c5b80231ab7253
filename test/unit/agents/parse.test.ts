import { describe, expect, it } from 'vitest'
import { MAX_AGENT_JSON_LINE_BYTES, MAX_USAGE_TOKENS } from '../../../src/agents/constants.js'
import { boundedUsage, jsonLines, retryAfterFromText } from '../../../src/agents/parse.js'

describe('reading an agent\'s log', () => {
  it('keeps the JSON objects and skips text, arrays, broken and over-long lines', () => {
    const long = JSON.stringify({ type: 'x', pad: 'a'.repeat(MAX_AGENT_JSON_LINE_BYTES) })
    const output = ['plain text', '{"type":"a"}', '[1,2]', '{"type":', long, '  {"type":"b"}  ', '{not json}', ''].join('\n')
    expect(jsonLines(output)).toEqual([{ type: 'a' }, { type: 'b' }])
  })

  it('reads the waits providers name, in their units', () => {
    expect(retryAfterFromText('Please try again in 6ms.')).toBe(6)
    expect(retryAfterFromText('Please retry in 17.6s.')).toBe(17_600)
    expect(retryAfterFromText('try again in 2 minutes')).toBe(120_000)
    expect(retryAfterFromText('Try again in 1 hour')).toBe(3_600_000)
    expect(retryAfterFromText('Try again in 30 seconds')).toBe(30_000)
    expect(retryAfterFromText('"responseHeaders":{"retry-after":"3"}')).toBe(3000)
    expect(retryAfterFromText('Try again later or check your quotas.')).toBeUndefined()
  })

  it('drops implausible figures and reports no usage when nothing is left', () => {
    expect(boundedUsage({ inputTokens: MAX_USAGE_TOKENS + 1, outputTokens: 5 })).toEqual({ outputTokens: 5 })
    expect(boundedUsage({})).toBeUndefined()
  })
})
