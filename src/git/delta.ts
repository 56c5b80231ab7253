import { MalformedObjectError, ObjectTooLargeError } from './errors.js'

/**
 * git's delta format (the body of a REF_DELTA or OFS_DELTA pack entry): the base and result
 * sizes as little-endian base-128 varints, then instructions — copy (bit 7 set: offset and size
 * bytes follow as flagged) or insert (1–127 literal bytes).
 */

function writeSize (out: number[], size: number): void {
  let value = size
  do {
    let byte = value & 0x7f
    value = Math.floor(value / 128)
    if (value > 0) byte |= 0x80
    out.push(byte)
  } while (value > 0)
}

function writeCopy (out: number[], offset: number, size: number): void {
  // One copy instruction moves at most 0x10000 bytes; larger spans take several.
  while (size > 0) {
    const chunk = Math.min(size, 0x10000)
    const bytes: number[] = []
    let flags = 0x80
    for (let i = 0; i < 4; i++) {
      const byte = Math.floor(offset / 2 ** (8 * i)) & 0xff
      if (byte !== 0) { flags |= 1 << i; bytes.push(byte) }
    }
    if (chunk !== 0x10000) {
      for (let i = 0; i < 3; i++) {
        const byte = (chunk >> (8 * i)) & 0xff
        if (byte !== 0) { flags |= 0x10 << i; bytes.push(byte) }
      }
    }
    out.push(flags, ...bytes)
    offset += chunk
    size -= chunk
  }
}

function writeInsert (out: number[], data: Uint8Array): void {
  for (let i = 0; i < data.length; i += 127) {
    const part = data.subarray(i, Math.min(i + 127, data.length))
    out.push(part.length, ...part)
  }
}

/**
 * A delta turning `base` into `target` by their common prefix and suffix: one copy, the changed
 * middle inserted, one copy. For the usual one-place edit of a file, or one entry's id changing
 * in a tree, that is as small as git's own search gets, at a fraction of the cost.
 */
export function encodeDelta (base: Uint8Array, target: Uint8Array): Uint8Array {
  const limit = Math.min(base.length, target.length)
  let prefix = 0
  while (prefix < limit && base[prefix] === target[prefix]) prefix++
  let suffix = 0
  while (suffix < limit - prefix && base[base.length - 1 - suffix] === target[target.length - 1 - suffix]) suffix++
  const out: number[] = []
  writeSize(out, base.length)
  writeSize(out, target.length)
  if (prefix > 0) writeCopy(out, 0, prefix)
  writeInsert(out, target.subarray(prefix, target.length - suffix))
  if (suffix > 0) writeCopy(out, base.length - suffix, suffix)
  return Uint8Array.from(out)
}

function readSize (delta: Uint8Array, position: { at: number }): number {
  let value = 0
  let shift = 0
  while (true) {
    if (position.at >= delta.length) throw new MalformedObjectError('truncated delta header')
    const byte = delta[position.at++]!
    value += (byte & 0x7f) * 2 ** shift
    shift += 7
    if ((byte & 0x80) === 0) return value
    if (shift > 49) throw new MalformedObjectError('delta size too large')
  }
}

/** Applies a git delta to `base`; every bound is checked, so a hostile delta only throws. */
export function applyDelta (base: Uint8Array, delta: Uint8Array, maxSize: number): Buffer {
  const position = { at: 0 }
  const baseSize = readSize(delta, position)
  const resultSize = readSize(delta, position)
  if (baseSize !== base.length) throw new MalformedObjectError(`delta expects a base of ${baseSize} bytes, the base has ${base.length}`)
  if (resultSize > maxSize) throw new ObjectTooLargeError(resultSize, maxSize, 'a delta\'s result')
  const result = Buffer.alloc(resultSize)
  let written = 0
  while (position.at < delta.length) {
    const op = delta[position.at++]!
    if ((op & 0x80) !== 0) {
      let offset = 0
      let size = 0
      for (let i = 0; i < 4; i++) if ((op & (1 << i)) !== 0) offset += delta[position.at++]! * 2 ** (8 * i)
      for (let i = 0; i < 3; i++) if ((op & (0x10 << i)) !== 0) size += delta[position.at++]! << (8 * i)
      if (size === 0) size = 0x10000
      if (position.at > delta.length || offset + size > base.length || written + size > resultSize) throw new MalformedObjectError('delta copy out of bounds')
      result.set(base.subarray(offset, offset + size), written)
      written += size
    } else if (op > 0) {
      if (position.at + op > delta.length || written + op > resultSize) throw new MalformedObjectError('delta insert out of bounds')
      result.set(delta.subarray(position.at, position.at + op), written)
      written += op
      position.at += op
    } else {
      throw new MalformedObjectError('delta opcode 0 is reserved')
    }
  }
  if (written !== resultSize) throw new MalformedObjectError(`delta produced ${written} of ${resultSize} bytes`)
  return result
}
