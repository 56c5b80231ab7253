import { inflateSync } from 'node:zlib'
import { MalformedObjectError, ObjectTooLargeError } from './errors.js'
import { StreamingInflate } from './inflate-scan.js'
import { PACK_SCAN_INFLATE_SYNC_BYTES } from './constants.js'

const OBJ_OFS_DELTA = 6
const OBJ_REF_DELTA = 7
const TRAILER_BYTES = 20

export interface PackGuardOptions {
  /** Largest object, delta, or delta result accepted, in bytes. */
  maxObjectBytes: number
  /** Called with the object count of the pack's header, before any entry is passed on; may throw. */
  onCount?: (count: number) => void
}

/**
 * Passes a pack's bytes through while reading every entry's header — the object's size, or a
 * delta's size and the size of the object it makes — and refuses the pack, before those bytes
 * reach `index-pack`, when one is larger than `maxObjectBytes`. A small pack can otherwise
 * describe a huge object (a 5 KB delta that makes a 1 GiB blob) and index-pack would build it
 * in memory. Finding where each entry ends takes inflating it; nothing inflated is kept beyond
 * a delta's first bytes.
 */
export async function * guardPack (source: AsyncIterable<Uint8Array>, options: PackGuardOptions): AsyncGenerator<Uint8Array> {
  const scanner = new PackScanner(options)
  try {
    for await (const chunk of source) {
      await scanner.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      yield chunk
    }
    scanner.finish()
  } finally {
    scanner.destroy()
  }
}

/** Reads an unsigned little-endian base-128 varint (a delta's sizes); undefined when incomplete. */
function deltaSize (bytes: Buffer, at: number): [number, number] | undefined {
  let value = 0
  let shift = 0
  for (let i = at; i < bytes.length; i++) {
    const byte = bytes[i]!
    value += (byte & 0x7f) * 2 ** shift
    shift += 7
    if ((byte & 0x80) === 0) return [value, i + 1]
    if (shift > 63) throw new MalformedObjectError('a delta size varint is too long')
  }
  return undefined
}

class PackScanner {
  private carry: Buffer = Buffer.alloc(0)
  private count?: number
  private entries = 0
  private trailer = 0
  /** The entry being inflated across chunks, and what its header said. */
  private current?: { inflate: StreamingInflate, size: number, delta: boolean, checkedResult: boolean }

  constructor (private readonly options: PackGuardOptions) {}

  async push (chunk: Buffer): Promise<void> {
    let bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk
    this.carry = Buffer.alloc(0)
    while (bytes.length > 0) {
      if (this.current !== undefined) {
        const used = await this.current.inflate.feed(bytes)
        this.checkDeltaResult()
        if (used === undefined) return
        this.endEntry(this.current.inflate.output, this.current.size, this.current.delta ? this.current.inflate.head : undefined)
        this.current.inflate.destroy()
        this.current = undefined
        bytes = bytes.subarray(used)
        continue
      }
      if (this.count === undefined) {
        if (bytes.length < 12) { this.carry = Buffer.from(bytes); return }
        this.readPackHeader(bytes)
        bytes = bytes.subarray(12)
        continue
      }
      if (this.entries === this.count) {
        this.trailer += bytes.length
        if (this.trailer > TRAILER_BYTES) throw new MalformedObjectError(`bytes after the end of the pack (${this.count} objects)`)
        return
      }
      const header = this.readEntryHeader(bytes)
      if (header === undefined) { this.carry = Buffer.from(bytes); return }
      const [size, delta, dataStart] = header
      bytes = bytes.subarray(dataStart)
      const used = this.inflateWhole(bytes, size, delta)
      if (used !== undefined) {
        bytes = bytes.subarray(used)
        continue
      }
      this.current = { inflate: new StreamingInflate(size), size, delta, checkedResult: false }
    }
  }

  private readPackHeader (bytes: Buffer): void {
    if (bytes.toString('latin1', 0, 4) !== 'PACK') throw new MalformedObjectError('not a pack')
    const version = bytes.readUInt32BE(4)
    if (version !== 2 && version !== 3) throw new MalformedObjectError(`pack version ${version} is not supported`)
    this.count = bytes.readUInt32BE(8)
    this.options.onCount?.(this.count)
  }

  /** [size, is a delta, offset of the zlib data] when the whole entry header is in `bytes`. */
  private readEntryHeader (bytes: Buffer): [number, boolean, number] | undefined {
    let at = 0
    let byte = bytes[at++]!
    const type = (byte >> 4) & 0x07
    let size = byte & 0x0f
    let shift = 4
    while ((byte & 0x80) !== 0) {
      if (at >= bytes.length) return undefined
      if (shift > 60) throw new MalformedObjectError('a pack entry header is too long')
      byte = bytes[at++]!
      size += (byte & 0x7f) * 2 ** shift
      shift += 7
    }
    if (type === 0 || type === 5) throw new MalformedObjectError(`unknown pack object type ${type}`)
    const delta = type === OBJ_OFS_DELTA || type === OBJ_REF_DELTA
    if (size > this.options.maxObjectBytes) throw new ObjectTooLargeError(size, this.options.maxObjectBytes, delta ? 'a delta' : 'an object')
    if (type === OBJ_OFS_DELTA) {
      do {
        if (at >= bytes.length) return undefined
        byte = bytes[at++]!
        if (at > 12) throw new MalformedObjectError('a delta base offset is too long')
      } while ((byte & 0x80) !== 0)
    } else if (type === OBJ_REF_DELTA) {
      at += 20
      if (at > bytes.length) return undefined
    }
    return [size, delta, at]
  }

  /**
   * An entry whose zlib data is all in `bytes` and small is inflated at once; returns the bytes
   * it used, or undefined when it must be inflated as its bytes arrive.
   */
  private inflateWhole (bytes: Buffer, size: number, delta: boolean): number | undefined {
    if (size > PACK_SCAN_INFLATE_SYNC_BYTES) return undefined
    let result: { buffer: Buffer, engine: { bytesWritten: number } }
    try {
      result = inflateSync(bytes, { info: true, maxOutputLength: size + 1 }) as unknown as typeof result
    } catch (err) {
      // The entry goes on in the next chunk.
      if ((err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') return undefined
      throw new MalformedObjectError(`a pack entry does not inflate: ${(err as Error).message}`)
    }
    this.endEntry(result.buffer.length, size, delta ? result.buffer : undefined)
    return result.engine.bytesWritten
  }

  /** Once a delta's first bytes are out: the size of the object it makes. */
  private checkDeltaResult (): void {
    const current = this.current
    if (current === undefined || !current.delta || current.checkedResult) return
    if (this.resultSizeChecked(current.inflate.head)) current.checkedResult = true
  }

  private resultSizeChecked (head: Buffer): boolean {
    const base = deltaSize(head, 0)
    const result = base === undefined ? undefined : deltaSize(head, base[1])
    if (result === undefined) return false
    if (result[0] > this.options.maxObjectBytes) throw new ObjectTooLargeError(result[0], this.options.maxObjectBytes, 'a delta\'s result')
    return true
  }

  private endEntry (output: number, size: number, deltaHead: Buffer | undefined): void {
    if (output !== size) throw new MalformedObjectError(`a pack entry inflates to ${output} bytes, its header says ${size}`)
    if (deltaHead !== undefined && !this.resultSizeChecked(deltaHead)) throw new MalformedObjectError('a delta too short to hold its sizes')
    this.entries++
  }

  finish (): void {
    if (this.count === undefined || this.entries < this.count || this.current !== undefined || this.trailer < TRAILER_BYTES) {
      throw new MalformedObjectError('the pack ends early')
    }
  }

  destroy (): void {
    this.current?.inflate.destroy()
  }
}
