import { createHash } from 'node:crypto'
import { deflateSync, inflateSync } from 'node:zlib'
import { MalformedObjectError, ObjectTooLargeError } from './errors.js'
import { applyDelta } from './delta.js'
import type { ObjectType } from './cat-file.js'

/**
 * git's pack format (version 2), in-process, for packs of a few objects: starting
 * `pack-objects`/`index-pack` costs more than the work itself when a change is one file.
 * Larger packs go through git.
 */

const TYPE_CODES: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 }
const CODE_TYPES: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' }
const OFS_DELTA = 6
const REF_DELTA = 7

export type PackInput =
  | { type: ObjectType, body: Uint8Array }
  | { refDelta: string, delta: Uint8Array }

function entryHeader (code: number, size: number): Buffer {
  const bytes: number[] = []
  let byte = (code << 4) | (size & 0x0f)
  let rest = Math.floor(size / 16)
  while (rest > 0) {
    bytes.push(byte | 0x80)
    byte = rest & 0x7f
    rest = Math.floor(rest / 128)
  }
  bytes.push(byte)
  return Buffer.from(bytes)
}

/** Writes a pack: whole objects, and REF_DELTA entries against bases the receiver holds (a thin pack). */
export function writePack (entries: readonly PackInput[]): Buffer {
  const header = Buffer.alloc(12)
  header.write('PACK', 0, 'latin1')
  header.writeUInt32BE(2, 4)
  header.writeUInt32BE(entries.length, 8)
  const parts: Buffer[] = [header]
  for (const entry of entries) {
    if ('refDelta' in entry) {
      parts.push(entryHeader(REF_DELTA, entry.delta.length), Buffer.from(entry.refDelta, 'hex'), deflateSync(entry.delta))
    } else {
      parts.push(entryHeader(TYPE_CODES[entry.type], entry.body.length), deflateSync(entry.body))
    }
  }
  const body = Buffer.concat(parts)
  return Buffer.concat([body, createHash('sha1').update(body).digest()])
}

export interface ParsedObject {
  oid: string
  type: ObjectType
  body: Buffer
}

export interface ParseOptions {
  /** Largest object (or delta result) accepted, in bytes. */
  maxObjectBytes: number
  /** Reads a REF_DELTA base the pack does not hold (a thin pack's base, held locally). */
  readBase: (oid: string) => Promise<{ type: ObjectType, body: Uint8Array } | null>
}

export function objectId (type: ObjectType, body: Uint8Array): string {
  return createHash('sha1').update(`${type} ${body.length}\0`, 'latin1').update(body).digest('hex')
}

/**
 * Reads every object of a pack, resolving deltas (against earlier entries or local bases), and
 * computes each id from the content: nothing the sender claims about ids is trusted. The trailing
 * checksum is verified; any malformation throws MalformedObjectError.
 */
export async function parsePack (pack: Buffer, options: ParseOptions): Promise<ParsedObject[]> {
  if (pack.length < 32 || pack.toString('latin1', 0, 4) !== 'PACK') throw new MalformedObjectError('not a pack')
  const version = pack.readUInt32BE(4)
  if (version !== 2 && version !== 3) throw new MalformedObjectError(`pack version ${version} is not supported`)
  const trailer = pack.subarray(pack.length - 20)
  if (!createHash('sha1').update(pack.subarray(0, pack.length - 20)).digest().equals(trailer)) throw new MalformedObjectError('pack checksum mismatch')
  const count = pack.readUInt32BE(8)
  const end = pack.length - 20
  const byOffset = new Map<number, ParsedObject>()
  const byOid = new Map<string, ParsedObject>()
  const objects: ParsedObject[] = []
  let position = 12
  for (let i = 0; i < count; i++) {
    const start = position
    if (position >= end) throw new MalformedObjectError('pack ends before its last object')
    let byte = pack[position++]!
    const code = (byte >> 4) & 0x07
    let size = byte & 0x0f
    let shift = 4
    while ((byte & 0x80) !== 0) {
      if (position >= end || shift > 49) throw new MalformedObjectError('bad object header')
      byte = pack[position++]!
      size += (byte & 0x7f) * 2 ** shift
      shift += 7
    }
    if (size > options.maxObjectBytes) throw new ObjectTooLargeError(size, options.maxObjectBytes, code === OFS_DELTA || code === REF_DELTA ? 'a delta' : 'an object')
    let base: { type: ObjectType, body: Uint8Array } | undefined
    if (code === OFS_DELTA) {
      byte = pack[position++]!
      let offset = byte & 0x7f
      while ((byte & 0x80) !== 0) {
        if (position >= end) throw new MalformedObjectError('bad delta offset')
        byte = pack[position++]!
        offset = (offset + 1) * 128 + (byte & 0x7f)
      }
      base = byOffset.get(start - offset)
      if (base === undefined) throw new MalformedObjectError('delta base offset points at no object')
    } else if (code === REF_DELTA) {
      if (position + 20 > end) throw new MalformedObjectError('truncated delta base id')
      const baseOid = pack.toString('hex', position, position + 20)
      position += 20
      base = byOid.get(baseOid) ?? await options.readBase(baseOid) ?? undefined
      if (base === undefined) throw new MalformedObjectError(`delta base ${baseOid} is not available`)
    } else if (CODE_TYPES[code] === undefined) {
      throw new MalformedObjectError(`unknown pack object type ${code}`)
    }
    let inflated: { buffer: Buffer, engine: { bytesWritten: number } }
    try {
      inflated = inflateSync(pack.subarray(position, end), { info: true, maxOutputLength: size + 1 }) as unknown as { buffer: Buffer, engine: { bytesWritten: number } }
    } catch (err) {
      throw new MalformedObjectError(`object at offset ${start} does not inflate: ${(err as Error).message}`)
    }
    if (inflated.buffer.length !== size) throw new MalformedObjectError(`object at offset ${start} inflates to ${inflated.buffer.length} bytes, not ${size}`)
    position += inflated.engine.bytesWritten
    const type = base?.type ?? CODE_TYPES[code]!
    const body = base === undefined ? inflated.buffer : applyDelta(base.body, inflated.buffer, options.maxObjectBytes)
    const object = { oid: objectId(type, body), type, body }
    byOffset.set(start, object)
    byOid.set(object.oid, object)
    objects.push(object)
  }
  if (position !== end) throw new MalformedObjectError(`${end - position} stray bytes after the last object`)
  return objects
}
