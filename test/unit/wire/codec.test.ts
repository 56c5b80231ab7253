import { describe, expect, it } from 'vitest'
import { decodeCbor, encodeCbor } from '../../../src/wire/codec.js'
import { InvalidMessageError } from '../../../src/wire/errors.js'
import { MAX_CBOR_ARRAY_ITEMS, MAX_CBOR_MAP_ENTRIES } from '../../../src/wire/constants.js'
import { cborTags, cborToDiagnostic } from './cbor-diagnostic.js'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const fromHex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'))
/** CBOR of a short text string (under 24 bytes), written by hand. */
const text = (value: string): string => (0x60 + value.length).toString(16) + Buffer.from(value).toString('hex')

function decodeError (bytes: Uint8Array): Error | undefined {
  try {
    decodeCbor(bytes)
    return undefined
  } catch (err) {
    return err as Error
  }
}

describe('encodeCbor', () => {
  it('writes byte strings as untagged major type 2, whatever the Uint8Array flavour', () => {
    expect(hex(encodeCbor(Uint8Array.of(1, 2, 3)))).toBe('43010203')
    expect(hex(encodeCbor(Buffer.from([1, 2, 3])))).toBe('43010203')
    expect(hex(encodeCbor(new Uint8Array(new ArrayBuffer(8), 2, 3).fill(7)))).toBe('43070707')
    // A 20-byte object id: head 0x54 (major type 2, length 20), then the raw bytes.
    const oid = Uint8Array.from({ length: 20 }, (_, i) => i)
    expect(hex(encodeCbor(oid))).toBe('54' + hex(oid))
    expect(hex(encodeCbor(new Uint8Array(24))).slice(0, 4)).toBe('5818')
    expect(hex(encodeCbor(new Uint8Array(256))).slice(0, 6)).toBe('590100')
    expect(hex(encodeCbor(new Uint8Array(70_000))).slice(0, 10)).toBe('5a00011170')
  })

  it('writes maps with the smallest head for their size, keys in insertion order', () => {
    expect(hex(encodeCbor({}))).toBe('a0')
    expect(hex(encodeCbor({ type: 'done' }))).toBe('a1' + text('type') + text('done'))
    const map = (size: number): Record<string, number> => Object.fromEntries(Array.from({ length: size }, (_, i) => [`k${i}`, i]))
    expect(hex(encodeCbor(map(23))).slice(0, 2)).toBe('b7')
    expect(hex(encodeCbor(map(24))).slice(0, 4)).toBe('b818')
    expect(cborToDiagnostic(encodeCbor({ b: 1, a: 2 }))).toBe('{"b": 1, "a": 2}')
  })

  it('writes a whole message as plain CBOR, exactly as built by hand', () => {
    const oid = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i)
    const expected = 'a4' + text('type') + text('want') + text('wants') + '81' + '54' + hex(oid) +
      text('haves') + '80' + text('skip') + '80'
    expect(hex(encodeCbor({ type: 'want', wants: [oid], haves: [], skip: [] }))).toBe(expected)
  })

  it('uses no record extension or any other tag, even for repeated map shapes', () => {
    // With records (useRecords: true), cbor-x would define a record for the repeated shape with
    // a tag and refer to it; plain CBOR repeats the map.
    const done = 'a1' + text('type') + text('done')
    expect(hex(encodeCbor([{ type: 'done' }, { type: 'done' }, { type: 'done' }]))).toBe('83' + done + done + done)
    const packs = Array.from({ length: 40 }, (_, i) => ({ type: 'pack', objects: [new Uint8Array(20).fill(i)] }))
    const bytes = encodeCbor(packs)
    expect(cborTags(bytes)).toEqual([])
    expect(decodeCbor(bytes)).toEqual(packs.map(p => ({ type: 'pack', objects: p.objects.map(o => Buffer.from(o)) })))
  })

  it('writes integers with the shortest head', () => {
    expect(hex(encodeCbor(0))).toBe('00')
    expect(hex(encodeCbor(23))).toBe('17')
    expect(hex(encodeCbor(24))).toBe('1818')
    expect(hex(encodeCbor(256))).toBe('190100')
    expect(hex(encodeCbor(70_000))).toBe('1a00011170')
    expect(hex(encodeCbor(2 ** 32 - 1))).toBe('1affffffff')
  })

  it('writes integers from 2^32 up as float64, which is why counts stay under 2^32 (objects.md §6.3)', () => {
    expect(hex(encodeCbor(2 ** 32))).toBe('fb41f0000000000000')
  })
})

describe('decodeCbor', () => {
  it('reads a byte string as a Uint8Array', () => {
    const value = decodeCbor(fromHex('43010203'))
    expect(value).toBeInstanceOf(Uint8Array)
    expect([...(value as Uint8Array)]).toEqual([1, 2, 3])
  })

  it('turns garbage into InvalidMessageError', () => {
    const garbage = [
      '', // nothing at all
      'ff', // a break outside an indefinite item
      'a1', // a map head and nothing else
      'a1' + text('type'), // a key without a value
      '1c', // reserved additional information
      '5f4101ff', // an indefinite-length byte string
      'a1647479706564646f6e6500', // an item followed by another
      '7a7fffffff00' // a text string claiming 2 GiB in a 6-byte buffer
    ]
    for (const bytes of garbage) {
      const err = decodeError(fromHex(bytes))
      expect(err, bytes).toBeInstanceOf(InvalidMessageError)
      expect(err?.name, bytes).toBe('InvalidMessageError')
    }
  })

  it('turns pseudo-random bytes into InvalidMessageError or a value, never another error', () => {
    let seed = 0x12345678
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed >>> 24
    }
    let invalid = 0
    for (let round = 0; round < 500; round++) {
      const bytes = Uint8Array.from({ length: 1 + (round % 40) }, next)
      const err = decodeError(bytes)
      if (err !== undefined) {
        expect(err.name, hex(bytes)).toBe('InvalidMessageError')
        invalid++
      }
    }
    expect(invalid).toBeGreaterThan(100)
  })

  it('fails at once on an array head claiming 2^32 items in a small buffer', () => {
    const started = performance.now()
    for (const head of ['9b0000000100000000', '9affffffff', '9bffffffffffffffff']) {
      const err = decodeError(fromHex(head + '00'.repeat(8)))
      expect(err, head).toBeInstanceOf(InvalidMessageError)
    }
    // Three refusals from the head alone take microseconds; filling an array would take seconds.
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it(`refuses array heads over MAX_CBOR_ARRAY_ITEMS (${MAX_CBOR_ARRAY_ITEMS}) before reading an item`, () => {
    const head = (count: number): string => '9a' + count.toString(16).padStart(8, '0')
    expect(decodeError(fromHex(head(MAX_CBOR_ARRAY_ITEMS + 1) + '00'))?.message).toMatch(String(MAX_CBOR_ARRAY_ITEMS))
    // Exactly the limit is fine when the items are there.
    const full = decodeCbor(fromHex(head(MAX_CBOR_ARRAY_ITEMS) + '00'.repeat(MAX_CBOR_ARRAY_ITEMS)))
    expect((full as unknown[]).length).toBe(MAX_CBOR_ARRAY_ITEMS)
  })

  it(`refuses map heads over MAX_CBOR_MAP_ENTRIES (${MAX_CBOR_MAP_ENTRIES})`, () => {
    const map = (size: number): Uint8Array => encodeCbor(Object.fromEntries(Array.from({ length: size }, (_, i) => [`k${i}`, i])))
    expect(Object.keys(decodeCbor(map(MAX_CBOR_MAP_ENTRIES)) as object)).toHaveLength(MAX_CBOR_MAP_ENTRIES)
    expect(decodeError(map(MAX_CBOR_MAP_ENTRIES + 1))).toBeInstanceOf(InvalidMessageError)
    // A head alone, claiming far more entries than the buffer holds.
    expect(decodeError(fromHex('ba0000ffff00'))).toBeInstanceOf(InvalidMessageError)
  })
})
