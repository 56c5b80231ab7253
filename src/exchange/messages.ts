import { z } from 'zod'
import { MAX_HAVES, MAX_SKIP, MAX_STATUS_MESSAGE_CHARS, MAX_WANTS, DATA_FRAME_BYTES, OBJECTS_PER_PACK } from './constants.js'

/**
 * Messages of /gitmesh/objects/1.0.0, one schema each; protocol/objects.cddl is the normative
 * form and the key order here is the order on the wire.
 */

/** A CBOR byte string (cbor-x decodes it as a Buffer, which is a Uint8Array). */
const bytes = z.custom<Uint8Array>(value => value instanceof Uint8Array, 'expected a byte string')

const oid = bytes.refine(bytes => bytes.byteLength === 20, 'object id must be 20 bytes')

export const WantMessage = z.strictObject({
  type: z.literal('want'),
  wants: z.array(oid).min(1).max(MAX_WANTS),
  haves: z.array(oid).max(MAX_HAVES),
  skip: z.array(oid).max(MAX_SKIP)
})

export const REFUSAL_CODES = ['not-granted', 'bad-request', 'not-found', 'busy', 'internal'] as const

export const RefuseMessage = z.strictObject({
  type: z.literal('refuse'),
  code: z.enum(REFUSAL_CODES),
  message: z.string().max(MAX_STATUS_MESSAGE_CHARS)
})

export const AcceptMessage = z.strictObject({
  type: z.literal('accept'),
  objects: z.number().int().nonnegative(),
  packs: z.number().int().nonnegative()
})

export const PackMessage = z.strictObject({
  type: z.literal('pack'),
  objects: z.array(oid).min(1).max(OBJECTS_PER_PACK)
})

export const DataMessage = z.strictObject({
  type: z.literal('data'),
  bytes: bytes.refine(bytes => bytes.byteLength <= DATA_FRAME_BYTES, `data frame over ${DATA_FRAME_BYTES} bytes`)
})

export const DoneMessage = z.strictObject({
  type: z.literal('done')
})

/** What a server may receive. */
export const ServerInbound = WantMessage
/** What a fetcher may receive. */
export const FetcherInbound = z.discriminatedUnion('type', [RefuseMessage, AcceptMessage, PackMessage, DataMessage, DoneMessage])

export type Want = z.infer<typeof WantMessage>
export type Refuse = z.infer<typeof RefuseMessage>
export type RefusalCode = Refuse['code']
export type FetcherMessage = z.infer<typeof FetcherInbound>
