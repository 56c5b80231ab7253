import { Decoder, Encoder, setSizeLimits } from 'cbor-x'
import { MAX_CBOR_ARRAY_ITEMS, MAX_CBOR_MAP_ENTRIES } from './constants.js'
import { InvalidMessageError } from './errors.js'
import { checkPlainCbor } from './cbor-check.js'

// Plain RFC 8949 CBOR: no record extension (useRecords: false), byte strings untagged, maps sized
// to their content, so any CBOR library can read what we write and vectors are stable.
const options = { useRecords: false, mapsAsObjects: true, variableMapSize: true, tagUint8Array: false } as const
const encoder = new Encoder(options)
const decoder = new Decoder(options)

setSizeLimits({ maxArraySize: MAX_CBOR_ARRAY_ITEMS, maxMapSize: MAX_CBOR_MAP_ENTRIES, maxObjectSize: MAX_CBOR_MAP_ENTRIES })

export function encodeCbor (value: unknown): Uint8Array {
  return encoder.encode(value)
}

/** Decodes one CBOR item; anything that is not exactly one well-formed plain item is InvalidMessageError. */
export function decodeCbor (bytes: Uint8Array): unknown {
  checkPlainCbor(bytes)
  try {
    return decoder.decode(bytes)
  } catch (err) {
    throw new InvalidMessageError(`malformed CBOR: ${(err as Error).message}`)
  }
}
