import { deflateRawSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { JobRequest, type LogRequest } from '../../../src/jobs/messages.js'
import { MAX_LOG_INFLATED_BYTES, MAX_LOG_TEXT_BYTES } from '../../../src/logs/constants.js'
import { deflateLogText, plainLogBatch } from '../../../src/logs/deflate.js'
import { InvalidMessageError } from '../../../src/wire/errors.js'

const base = { type: 'log', job: 'a1b2c3d4e5f6', round: 1, attempt: 1, step: 'generate', offset: 4096 } as const
const deflatedLog = (deflated: Uint8Array): LogRequest => ({ ...base, deflated })

describe('deflated live log text', () => {
  it('inflates to the same text, offsets untouched, and is refused when it would not be smaller', () => {
    const text = Array.from({ length: 200 }, (_, i) => `{"type":"tool_use","id":"toolu_${i}","name":"Read","input":{"file_path":"src/é/${i}.ts"}}\n`).join('')
    const deflated = deflateLogText(text)!
    expect(deflated.byteLength).toBeLessThan(Buffer.byteLength(text) / 4)
    expect(plainLogBatch(deflatedLog(deflated))).toEqual({ ...base, text })
    expect(plainLogBatch({ ...base, text: 'plain\n' })).toEqual({ ...base, text: 'plain\n' })
    // A text that does not shrink goes plain.
    expect(deflateLogText('ok\n')).toBeUndefined()
  })

  it('takes text inflating to exactly the bound, and refuses a zip bomb without inflating it whole', () => {
    // A deflated batch carries more text than a plain one may: up to MAX_LOG_INFLATED_BYTES (1 MiB).
    expect(MAX_LOG_INFLATED_BYTES).toBe(1024 * 1024)
    expect(plainLogBatch(deflatedLog(deflateRawSync(Buffer.alloc(MAX_LOG_INFLATED_BYTES, 'x')))).text).toHaveLength(MAX_LOG_INFLATED_BYTES)
    const over = deflateRawSync(Buffer.alloc(MAX_LOG_INFLATED_BYTES + 1, 'x'))
    expect(() => plainLogBatch(deflatedLog(over))).toThrow(InvalidMessageError)
    // About 128 KiB that would inflate to 128 MiB: refused as soon as the output passes the bound.
    const bomb = deflateRawSync(Buffer.alloc(128 * 1024 * 1024, 0), { level: 9 })
    expect(bomb.byteLength).toBeLessThan(MAX_LOG_TEXT_BYTES)
    const started = performance.now()
    expect(() => plainLogBatch(deflatedLog(bomb))).toThrow(/inflates past the 1048576 bytes allowed/)
    expect(performance.now() - started).toBeLessThan(500)
  })

  it('refuses bytes that are not raw deflate, inflate to nothing or are not UTF-8', () => {
    expect(() => plainLogBatch(deflatedLog(Uint8Array.from([0xff, 0xff, 0xff, 0xff])))).toThrow(InvalidMessageError)
    expect(() => plainLogBatch(deflatedLog(deflateRawSync(Buffer.alloc(0))))).toThrow(/inflates to nothing/)
    expect(() => plainLogBatch(deflatedLog(deflateRawSync(Buffer.from([0x61, 0xc3, 0x28, 0x0a]))))).toThrow(/not UTF-8/)
  })

  it('carries exactly one of text and deflated, deflated within the bound', () => {
    const deflated = deflateRawSync(Buffer.from('hello\n'))
    expect(JobRequest.safeParse({ ...base, deflated }).success).toBe(true)
    expect(JobRequest.safeParse({ ...base, text: 'hello\n', deflated }).success).toBe(false)
    expect(JobRequest.safeParse({ ...base }).success).toBe(false)
    expect(JobRequest.safeParse({ ...base, deflated: new Uint8Array(0) }).success).toBe(false)
    expect(JobRequest.safeParse({ ...base, deflated: new Uint8Array(MAX_LOG_TEXT_BYTES + 1) }).success).toBe(true)
    expect(JobRequest.safeParse({ ...base, deflated: new Uint8Array(MAX_LOG_INFLATED_BYTES + 1) }).success).toBe(false)
    expect(JobRequest.safeParse({ ...base, deflated: 'aGVsbG8=' }).success).toBe(false)
  })
})
