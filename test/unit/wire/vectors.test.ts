import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { decodeCbor, encodeCbor } from '../../../src/wire/codec.js'
import { parseMessage } from '../../../src/wire/channel.js'
import { InvalidMessageError } from '../../../src/wire/errors.js'
import { MAX_FRAME_BYTES } from '../../../src/wire/constants.js'
import { FetcherInbound, REFUSAL_CODES, ServerInbound } from '../../../src/exchange/messages.js'
import { DATA_FRAME_BYTES, MAX_HAVES, MAX_SKIP, MAX_STATUS_MESSAGE_CHARS, MAX_WANTS, OBJECTS_PER_PACK } from '../../../src/exchange/constants.js'
import { cborTags, cborToDiagnostic } from './cbor-diagnostic.js'

/** protocol/vectors/objects.json: the test vectors of /gitmesh/objects/1.0.0. */
interface Vector {
  name: string
  description: string
  /** Which side receives the message, and so which schema applies. */
  receiver: 'server' | 'fetcher'
  hex: string
  diagnostic: string
  valid: boolean
  error?: string
}

const vectors = JSON.parse(readFileSync(new URL('../../../protocol/vectors/objects.json', import.meta.url), 'utf8')) as Vector[]

const schemaFor = (vector: Vector): z.ZodType<unknown> => vector.receiver === 'server' ? ServerInbound : FetcherInbound
const bytesOf = (vector: Vector): Uint8Array => Uint8Array.from(Buffer.from(vector.hex, 'hex'))
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

function decodeAndValidate (vector: Vector): unknown {
  return parseMessage(schemaFor(vector), decodeCbor(bytesOf(vector)))
}

function errorOf (action: () => unknown): Error | undefined {
  try {
    action()
    return undefined
  } catch (err) {
    return err as Error
  }
}

describe('the vector file', () => {
  it('is well formed: unique names, lower-case hex, a receiver, an error name exactly on invalid vectors', () => {
    expect(vectors.length).toBeGreaterThan(30)
    expect(new Set(vectors.map(v => v.name)).size).toBe(vectors.length)
    for (const vector of vectors) {
      expect(vector.hex, vector.name).toMatch(/^(?:[0-9a-f]{2})+$/)
      expect(['server', 'fetcher'], vector.name).toContain(vector.receiver)
      expect(vector.description.length, vector.name).toBeGreaterThan(0)
      expect(vector.diagnostic.length, vector.name).toBeGreaterThan(0)
      if (vector.valid) expect(vector.error, vector.name).toBeUndefined()
      else expect(vector.error, vector.name).toBe('InvalidMessageError')
    }
  })

  it('has a valid vector for every message type and every refusal code', () => {
    const valid = vectors.filter(v => v.valid).map(v => decodeAndValidate(v) as { type: string, code?: string })
    expect(new Set(valid.map(m => m.type))).toEqual(new Set(['want', 'refuse', 'accept', 'pack', 'data', 'done']))
    expect(new Set(valid.filter(m => m.type === 'refuse').map(m => m.code))).toEqual(new Set(REFUSAL_CODES))
    const wants = valid.filter(m => m.type === 'want') as unknown as Array<{ haves: unknown[], skip: unknown[] }>
    expect(wants.some(m => m.haves.length === 0 && m.skip.length === 0)).toBe(true)
    expect(wants.some(m => m.haves.length > 0)).toBe(true)
    expect(wants.some(m => m.skip.length > 0)).toBe(true)
  })

  it('has the invalid vectors the protocol text promises', () => {
    const names = new Set(vectors.filter(v => !v.valid).map(v => v.name))
    for (const name of ['unknown-type', 'want-extra-key', 'accept-objects-as-text', 'want-oid-19-bytes', 'want-too-many-wants', 'want-oid-tag-64', 'truncated-accept']) {
      expect(names, name).toContain(name)
    }
  })

  it('sends each message type to the right side: want to the server, the rest to the fetcher', () => {
    for (const vector of vectors.filter(v => v.valid)) {
      const message = decodeCbor(bytesOf(vector)) as { type: string }
      expect(vector.receiver, vector.name).toBe(message.type === 'want' ? 'server' : 'fetcher')
    }
  })
})

describe('valid vectors', () => {
  for (const vector of vectors.filter(v => v.valid)) {
    it(`${vector.name}: decodes, validates, and re-encodes to the same bytes`, () => {
      const message = decodeAndValidate(vector)
      expect(hexOf(encodeCbor(message))).toBe(vector.hex)
      // The schema must not change the value: the raw decoded item re-encodes the same way.
      expect(hexOf(encodeCbor(decodeCbor(bytesOf(vector))))).toBe(vector.hex)
    })

    it(`${vector.name}: is rejected by the other side's schema`, () => {
      const other: z.ZodType<unknown> = vector.receiver === 'server' ? FetcherInbound : ServerInbound
      expect(errorOf(() => parseMessage(other, decodeCbor(bytesOf(vector))))?.name).toBe('InvalidMessageError')
    })
  }
})

describe('invalid vectors', () => {
  for (const vector of vectors.filter(v => !v.valid)) {
    it(`${vector.name}: decoding and validation throw ${vector.error ?? '?'}`, () => {
      const err = errorOf(() => decodeAndValidate(vector))
      expect(err).toBeInstanceOf(InvalidMessageError)
      expect(err?.name).toBe(vector.error)
    })
  }
})

describe('diagnostic notation', () => {
  // An independent CBOR reader (no cbor-x) prints each vector; it must agree with the file.
  for (const vector of vectors) {
    it(`${vector.name}: matches the bytes`, () => {
      let printed: string | undefined
      const failure = errorOf(() => { printed = cborToDiagnostic(bytesOf(vector)) })
      if (printed !== undefined) {
        expect(printed).toBe(vector.diagnostic)
      } else {
        // Not one well-formed item (or text that is not UTF-8): only an invalid vector may be so,
        // and its hand-written notation says why in a comment.
        expect(failure).toBeDefined()
        expect(vector.valid).toBe(false)
        expect(vector.diagnostic).toMatch(/\/ .+ \//)
      }
      if (vector.valid) expect(cborTags(bytesOf(vector))).toEqual([])
    })
  }
})

describe('limits at their boundaries', () => {
  const oid = (i: number): Uint8Array => {
    const bytes = new Uint8Array(20)
    new DataView(bytes.buffer).setUint32(16, i)
    return bytes
  }
  const ids = (count: number): Uint8Array[] => Array.from({ length: count }, (_, i) => oid(i))
  const want = (wants: number, haves: number, skip: number): unknown => ({ type: 'want', wants: ids(wants), haves: ids(haves), skip: ids(skip) })
  const accepts = (schema: z.ZodType<unknown>, value: unknown): boolean => errorOf(() => parseMessage(schema, decodeCbor(encodeCbor(value)))) === undefined

  it('want: up to MAX_WANTS, MAX_HAVES and MAX_SKIP ids, not one more', () => {
    expect(accepts(ServerInbound, want(MAX_WANTS, MAX_HAVES, MAX_SKIP))).toBe(true)
    expect(accepts(ServerInbound, want(MAX_WANTS + 1, 0, 0))).toBe(false)
    expect(accepts(ServerInbound, want(1, MAX_HAVES + 1, 0))).toBe(false)
    expect(accepts(ServerInbound, want(1, 0, MAX_SKIP + 1))).toBe(false)
  })

  it('data: up to DATA_FRAME_BYTES bytes, not one more', () => {
    expect(accepts(FetcherInbound, { type: 'data', bytes: new Uint8Array(DATA_FRAME_BYTES) })).toBe(true)
    expect(accepts(FetcherInbound, { type: 'data', bytes: new Uint8Array(DATA_FRAME_BYTES + 1) })).toBe(false)
  })

  it('refuse: a message of MAX_STATUS_MESSAGE_CHARS characters, not one more', () => {
    expect(accepts(FetcherInbound, { type: 'refuse', code: 'internal', message: 'é'.repeat(MAX_STATUS_MESSAGE_CHARS) })).toBe(true)
    expect(accepts(FetcherInbound, { type: 'refuse', code: 'internal', message: 'é'.repeat(MAX_STATUS_MESSAGE_CHARS + 1) })).toBe(false)
  })

  it('accept: a count of 2^32 - 1 is a 4-byte unsigned integer; 2^53 and bigints are refused', () => {
    const largest = { type: 'accept', objects: 2 ** 32 - 1, packs: 0 }
    expect(cborToDiagnostic(encodeCbor(largest))).toBe('{"type": "accept", "objects": 4294967295, "packs": 0}')
    expect(accepts(FetcherInbound, largest)).toBe(true)
    expect(accepts(FetcherInbound, { type: 'accept', objects: 2 ** 53, packs: 0 })).toBe(false)
    expect(accepts(FetcherInbound, { type: 'accept', objects: 2n ** 64n - 1n, packs: 0 })).toBe(false)
  })

  it('the largest legal messages fit in one frame', () => {
    expect(encodeCbor(want(MAX_WANTS, MAX_HAVES, MAX_SKIP)).byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    expect(encodeCbor({ type: 'pack', objects: ids(OBJECTS_PER_PACK) }).byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    expect(encodeCbor({ type: 'data', bytes: new Uint8Array(DATA_FRAME_BYTES) }).byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES)
  })
})
