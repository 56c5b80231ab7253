import { readFileSync } from 'node:fs'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { decodeCbor, encodeCbor } from '../../../src/wire/codec.js'
import { parseMessage } from '../../../src/wire/channel.js'
import { InvalidMessageError } from '../../../src/wire/errors.js'
import { MAX_FRAME_BYTES } from '../../../src/wire/constants.js'
import { BUILDER_STATES, JobReply, JobRequest, REPLY_CODES, type JobRequestMessage, type ResultAnnouncement } from '../../../src/jobs/messages.js'
import { signResult, verifyResult } from '../../../src/jobs/signing.js'
import { MAX_ATTEMPT_LOG_BYTES, MAX_ATTEMPTS, MAX_PROMPT_CHARS } from '../../../src/jobs/constants.js'
import { cborTags, cborToDiagnostic } from '../wire/cbor-diagnostic.js'

/** protocol/vectors/jobs.json: the test vectors of /gitmesh/jobs/1.0.0. */
interface Vector {
  name: string
  description: string
  /** Which schema applies: JobRequest (offer, cancel, status, result, load, lease, handback, log, roles) or JobReply (ok, decline). */
  schema: 'request' | 'reply'
  hex: string
  diagnostic: string
  valid: boolean
  error?: string
  /** Invalid vectors: the key path the receiver refuses, '' for the whole map, 'cbor' for bytes that are not plain CBOR. */
  where?: string
}

interface VectorFile {
  protocol: string
  signingKey: { description: string, privateKey: string, peerId: string }
  vectors: Vector[]
}

const file = JSON.parse(readFileSync(new URL('../../../protocol/vectors/jobs.json', import.meta.url), 'utf8')) as VectorFile
const { vectors } = file
const signingKey = privateKeyFromProtobuf(Buffer.from(file.signingKey.privateKey, 'hex'))

/** Another real Ed25519 peer id, not the vectors' builder. */
const OTHER_PEER = '12D3KooWDMmtGs3HhCP5MkgWTya1JFyn6nPeZcWa9JTi6Xe4H9mm'

const schemaFor = (vector: Vector): z.ZodType<unknown> => vector.schema === 'request' ? JobRequest : JobReply
const bytesOf = (vector: Vector): Uint8Array => Uint8Array.from(Buffer.from(vector.hex, 'hex'))
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const decodeAndValidate = (vector: Vector): unknown => parseMessage(schemaFor(vector), decodeCbor(bytesOf(vector)))
const valid = vectors.filter(v => v.valid)
const invalid = vectors.filter(v => !v.valid)

function errorOf (action: () => unknown): Error | undefined {
  try {
    action()
    return undefined
  } catch (err) {
    return err as Error
  }
}

function resultOf (vector: Vector): ResultAnnouncement {
  const message = decodeAndValidate(vector) as JobRequestMessage
  if (message.type !== 'result') throw new Error(`${vector.name} is not a result`)
  return message
}

describe('the vector file', () => {
  it('is well formed: unique names, lower-case hex, a schema, an error name and a place exactly on invalid vectors', () => {
    expect(file.protocol).toBe('/gitmesh/jobs/1.0.0')
    expect(vectors.length).toBeGreaterThan(40)
    expect(new Set(vectors.map(v => v.name)).size).toBe(vectors.length)
    for (const vector of vectors) {
      expect(vector.hex, vector.name).toMatch(/^(?:[0-9a-f]{2})+$/)
      expect(['request', 'reply'], vector.name).toContain(vector.schema)
      expect(vector.description.length, vector.name).toBeGreaterThan(0)
      expect(vector.diagnostic.length, vector.name).toBeGreaterThan(0)
      if (vector.valid) {
        expect(vector.error, vector.name).toBeUndefined()
        expect(vector.where, vector.name).toBeUndefined()
      } else {
        expect(vector.error, vector.name).toBe('InvalidMessageError')
        expect(typeof vector.where, vector.name).toBe('string')
      }
    }
  })

  it('names the key that signed the results, and that key is the builder of every result vector', () => {
    expect(peerIdFromPrivateKey(signingKey).toString()).toBe(file.signingKey.peerId)
    expect(signingKey.type).toBe('Ed25519')
    const results = valid.filter(v => (decodeCbor(bytesOf(v)) as { type: string }).type === 'result')
    expect(results.length).toBeGreaterThanOrEqual(3)
    for (const vector of results) expect(resultOf(vector).builder, vector.name).toBe(file.signingKey.peerId)
  })

  it('has a valid vector for every message type, every status state and every decline code', () => {
    const messages = valid.map(v => decodeAndValidate(v) as { type: string, state?: string, code?: string, commit?: unknown })
    expect(new Set(messages.map(m => m.type))).toEqual(new Set(['offer', 'cancel', 'status', 'result', 'load', 'lease', 'handback', 'log', 'roles', 'ok', 'decline']))
    expect(new Set(messages.filter(m => m.type === 'status').map(m => m.state))).toEqual(new Set(BUILDER_STATES))
    expect(new Set(messages.filter(m => m.type === 'decline').map(m => m.code))).toEqual(new Set(REPLY_CODES))
    const results = messages.filter(m => m.type === 'result')
    expect(results.some(m => m.commit === undefined)).toBe(true)
    expect(results.some(m => m.commit !== undefined)).toBe(true)
  })

  it('has valid vectors for every optional key: an offer with and without priority (a negative one too), an ok with and without load and tags', () => {
    const messages = valid.map(v => decodeAndValidate(v) as { type: string, job?: { priority?: number }, slots?: number, tags?: string[], jobs?: unknown[] })
    const offers = messages.filter(m => m.type === 'offer')
    expect(offers.some(m => m.job?.priority === undefined)).toBe(true)
    expect(offers.some(m => m.job?.priority !== undefined && m.job.priority > 0)).toBe(true)
    expect(offers.some(m => m.job?.priority !== undefined && m.job.priority < 0)).toBe(true)
    const oks = messages.filter(m => m.type === 'ok')
    expect(oks.some(m => m.slots === undefined && m.tags === undefined)).toBe(true)
    expect(oks.some(m => m.slots !== undefined && m.tags === undefined)).toBe(true)
    expect(oks.some(m => (m.tags?.length ?? 0) > 0)).toBe(true)
    expect(oks.some(m => m.tags !== undefined && m.tags.length === 0)).toBe(true)
    expect(messages.some(m => m.type === 'lease' && (m.jobs?.length ?? 0) > 1)).toBe(true)
  })

  it('has the invalid vectors the brief and the protocol text promise', () => {
    const names = new Set(invalid.map(v => v.name))
    for (const name of ['offer-bad-job-id', 'status-unknown-state', 'offer-extra-key', 'offer-prompt-wrong-type', 'result-missing-signature', 'result-committedAt-uint64', 'unknown-type', 'duplicate-key']) {
      expect(names, name).toContain(name)
    }
  })

  it('has invalid vectors for each message and key added for parallel work: load, lease, handback, priority, tags', () => {
    const places = new Set(invalid.filter(v => v.where !== 'cbor').map(v => `${(decodeCbor(bytesOf(v)) as { type?: string }).type ?? '?'} ${v.where ?? ''}`))
    for (const place of ['load ', 'lease jobs', 'lease jobs.0.round', 'handback reason', 'offer job.priority', 'ok tags', 'ok tags.0']) {
      expect(places, place).toContain(place)
    }
  })

  it('uses each schema for the messages it covers: requests are not replies and replies are not requests', () => {
    for (const vector of valid) {
      const { type } = decodeCbor(bytesOf(vector)) as { type: string }
      expect(vector.schema, vector.name).toBe(['ok', 'decline'].includes(type) ? 'reply' : 'request')
    }
  })
})

describe('valid vectors', () => {
  for (const vector of valid) {
    it(`${vector.name}: decodes, validates, and re-encodes to the same bytes`, () => {
      const message = decodeAndValidate(vector)
      expect(hexOf(encodeCbor(message))).toBe(vector.hex)
      // The schema must not change the value: the raw decoded item re-encodes the same way.
      expect(hexOf(encodeCbor(decodeCbor(bytesOf(vector))))).toBe(vector.hex)
    })

    it(`${vector.name}: is refused by the other schema`, () => {
      const other: z.ZodType<unknown> = vector.schema === 'request' ? JobReply : JobRequest
      expect(errorOf(() => parseMessage(other, decodeCbor(bytesOf(vector))))?.name).toBe('InvalidMessageError')
    })
  }
})

describe('invalid vectors', () => {
  for (const vector of invalid) {
    it(`${vector.name}: decoding and validation throw ${vector.error ?? '?'} at ${JSON.stringify(vector.where)}`, () => {
      const err = errorOf(() => decodeAndValidate(vector))
      expect(err).toBeInstanceOf(InvalidMessageError)
      expect(err?.name).toBe(vector.error)
      // It fails for the reason the vector is about, not for another one.
      if (vector.where === 'cbor') {
        expect(err?.message).toMatch(/^malformed CBOR/)
      } else {
        const parsed = schemaFor(vector).safeParse(decodeCbor(bytesOf(vector)))
        expect(parsed.success).toBe(false)
        expect(parsed.error?.issues[0]?.path.join('.')).toBe(vector.where)
      }
    })
  }
})

describe('result signatures', () => {
  const resultVectors = valid.filter(v => (decodeCbor(bytesOf(v)) as { type: string }).type === 'result')

  for (const vector of resultVectors) {
    it(`${vector.name}: the signature verifies against the builder's peer id`, async () => {
      expect(await verifyResult(resultOf(vector))).toBe(true)
    })

    it(`${vector.name}: re-signing the fields with the vector key gives the same signature (Ed25519 is deterministic)`, async () => {
      const { signature, ...body } = resultOf(vector)
      const signed = await signResult(signingKey, body)
      expect(hexOf(signed.signature)).toBe(hexOf(signature))
      expect(signed.signature.byteLength).toBe(64)
      expect(hexOf(encodeCbor(signed))).toBe(vector.hex)
    })

    it(`${vector.name}: the signature covers every field: changing any one fails verification`, async () => {
      const original = resultOf(vector)
      const changes: Array<[string, (r: ResultAnnouncement) => ResultAnnouncement]> = [
        ['job', r => ({ ...r, job: r.job === '000000000000' ? '000000000001' : '000000000000' })],
        ['round', r => ({ ...r, round: r.round + 1 })],
        ['builder', r => ({ ...r, builder: OTHER_PEER })],
        ['passed', r => ({ ...r, passed: !r.passed })],
        ['summary', r => ({ ...r, summary: `${r.summary}.` })],
        ['committedAt', r => ({ ...r, committedAt: r.committedAt + 1 })],
        ['error (added or changed)', r => ({ ...r, error: `${r.error ?? ''}!` })],
        ['attempts (one appended)', r => ({ ...r, attempts: [...r.attempts, { number: r.attempts.length + 1, passed: false, generateMs: 1, testMs: 1, log: '' }] })],
        ['signature (one bit)', r => ({ ...r, signature: flipFirstBit(r.signature) })]
      ]
      if (original.commit !== undefined) {
        changes.push(['commit (one bit)', r => ({ ...r, commit: flipFirstBit(r.commit!) })])
        changes.push(['commit (removed)', r => ({ ...r, commit: undefined })])
      } else {
        changes.push(['commit (added)', r => ({ ...r, commit: new Uint8Array(20) })])
      }
      if (original.error !== undefined) changes.push(['error (removed)', r => ({ ...r, error: undefined })])
      if (original.attempts.length > 0) {
        changes.push(['attempts (last removed)', r => ({ ...r, attempts: r.attempts.slice(0, -1) })])
        for (const key of ['number', 'passed', 'generateMs', 'testMs', 'log'] as const) {
          changes.push([`attempts.0.${key}`, r => {
            const [first, ...rest] = r.attempts
            const changed = { ...first!, [key]: key === 'passed' ? !first!.passed : key === 'log' ? `${first!.log} ` : (first![key] as number) + 1 }
            return { ...r, attempts: [changed, ...rest] }
          }])
        }
      }
      for (const [field, change] of changes) {
        const tampered = change(original)
        expect(await verifyResult(tampered), field).toBe(false)
      }
      // And the untouched result still verifies: the changes above were copies.
      expect(await verifyResult(original)).toBe(true)
    })
  }

  it('a result is not verified when its builder is not a peer id, or names a key that is not embedded', async () => {
    const result = resultOf(resultVectors[0]!)
    expect(await verifyResult({ ...result, builder: 'not-a-peer-id' })).toBe(false)
    // An RSA-style peer id (a SHA-256 multihash, "Qm…") does not carry its public key.
    expect(await verifyResult({ ...result, builder: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' })).toBe(false)
  })

  it('the signature does not depend on the order the sender wrote the keys in', async () => {
    const result = resultOf(resultVectors[0]!)
    const { signature, commit, ...rest } = result
    // The order the builder's job runner actually sends: commit after attempts.
    const reordered = { ...rest, commit, signature } as ResultAnnouncement
    expect(Object.keys(reordered)).not.toEqual(Object.keys(result))
    expect(await verifyResult(reordered)).toBe(true)
    const decoded = parseMessage(JobRequest, decodeCbor(encodeCbor(reordered))) as ResultAnnouncement
    expect(await verifyResult(decoded)).toBe(true)
  })
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
        expect(failure).toBeDefined()
        expect(vector.valid).toBe(false)
        expect(vector.diagnostic).toMatch(/\/ .+ \//)
      }
      if (vector.valid) expect(cborTags(bytesOf(vector))).toEqual([])
    })
  }

  it('every valid result writes committedAt as a float64, and nothing else as a float', () => {
    for (const vector of valid) {
      const floats = vector.diagnostic.match(/\d+\.0_3/g) ?? []
      const isResult = vector.diagnostic.startsWith('{"type": "result"')
      expect(floats.length, vector.name).toBe(isResult ? 1 : 0)
      if (isResult) expect(vector.diagnostic, vector.name).toMatch(/"committedAt": \d+\.0_3/)
    }
  })
})

describe('limits at their boundaries', () => {
  const offerWith = (fields: Record<string, unknown>): unknown => {
    const base = decodeAndValidate(vectors.find(v => v.name === 'offer')!) as { type: 'offer', job: Record<string, unknown> }
    return { ...base, job: { ...base.job, ...fields } }
  }
  const accepts = (schema: z.ZodType<unknown>, value: unknown): boolean => errorOf(() => parseMessage(schema, decodeCbor(encodeCbor(value)))) === undefined

  it('offer: a prompt of MAX_PROMPT_CHARS characters, not one more; the largest fits one frame', () => {
    const largest = offerWith({ prompt: 'é'.repeat(MAX_PROMPT_CHARS) })
    expect(accepts(JobRequest, largest)).toBe(true)
    expect(accepts(JobRequest, offerWith({ prompt: 'é'.repeat(MAX_PROMPT_CHARS + 1) }))).toBe(false)
    expect(encodeCbor(largest).byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES)
  })

  it('offer: a name of 48 characters, not 49; attempts 1 to MAX_ATTEMPTS', () => {
    expect(accepts(JobRequest, offerWith({ name: 'a'.repeat(48) }))).toBe(true)
    expect(accepts(JobRequest, offerWith({ name: 'a'.repeat(49) }))).toBe(false)
    expect(accepts(JobRequest, offerWith({ attempts: MAX_ATTEMPTS }))).toBe(true)
    expect(accepts(JobRequest, offerWith({ attempts: 0 }))).toBe(false)
  })

  it('result: a conforming builder\'s largest result (MAX_ATTEMPTS logs of MAX_ATTEMPT_LOG_BYTES) fits one frame', async () => {
    const { signature: _signature, ...body } = resultOf(valid.find(v => v.name === 'result-failed')!)
    const log = 'x'.repeat(MAX_ATTEMPT_LOG_BYTES)
    const attempts = Array.from({ length: MAX_ATTEMPTS }, (_, i) => ({ number: i + 1, passed: false, generateMs: 1, testMs: 1, log }))
    const largest = await signResult(signingKey, { ...body, attempts })
    expect(accepts(JobRequest, largest)).toBe(true)
    expect(encodeCbor(largest).byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES)
  })
})

function flipFirstBit (bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes)
  copy[0] = copy[0]! ^ 1
  return copy
}
