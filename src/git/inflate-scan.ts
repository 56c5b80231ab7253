import { createInflate, type Inflate } from 'node:zlib'
import { MalformedObjectError } from './errors.js'
import { PACK_SCAN_INFLATE_CHUNK_BYTES } from './constants.js'

/** Bytes of inflated output kept from the start of an entry: enough for a delta's two size varints. */
const HEAD_BYTES = 32

/**
 * Inflates one pack entry's zlib stream as its bytes arrive, keeping only the first bytes of the
 * output and counting the rest, to find where the entry ends in the pack: zlib alone knows.
 * Output beyond `limit` bytes is malformed (the entry header announced `limit`).
 */
export class StreamingInflate {
  private readonly inflate: Inflate
  private readonly headParts: Buffer[] = []
  private headLength = 0
  private failure?: Error
  private readonly ended: Promise<void>
  /** Inflated bytes so far. */
  output = 0

  constructor (private readonly limit: number) {
    // Large output chunks: the output is only counted, and fewer chunks cost less.
    this.inflate = createInflate({ chunkSize: PACK_SCAN_INFLATE_CHUNK_BYTES })
    this.inflate.on('data', (data: Buffer) => {
      this.output += data.length
      if (this.headLength < HEAD_BYTES) {
        this.headParts.push(data.subarray(0, HEAD_BYTES - this.headLength))
        this.headLength = Math.min(HEAD_BYTES, this.headLength + data.length)
      }
      if (this.output > this.limit) this.failure ??= new MalformedObjectError(`a pack entry inflates to more than the ${this.limit} bytes its header announced`)
    })
    this.ended = new Promise<void>((resolve, reject) => {
      this.inflate.once('end', resolve)
      this.inflate.once('error', reject)
    })
    this.ended.catch(() => { /* reported by feed() */ })
  }

  /** The first inflated bytes (up to 32). */
  get head (): Buffer {
    return Buffer.concat(this.headParts)
  }

  /**
   * Feeds the next bytes. Returns how many of them the zlib stream used when it ended inside
   * them (the rest is the next entry), or undefined when it needs more.
   */
  async feed (bytes: Buffer): Promise<number | undefined> {
    const before = this.inflate.bytesWritten
    try {
      await new Promise<void>((resolve, reject) => {
        this.inflate.write(bytes, err => { if (err != null) reject(err); else resolve() })
      })
    } catch (err) {
      throw new MalformedObjectError(`a pack entry does not inflate: ${(err as Error).message}`)
    }
    if (this.failure !== undefined) throw this.failure
    const used = this.inflate.bytesWritten - before
    if (used === bytes.length) return undefined
    // zlib stopped short of the input: its stream ended. Wait for the last output to be counted.
    try {
      await this.ended
    } catch (err) {
      throw new MalformedObjectError(`a pack entry does not inflate: ${(err as Error).message}`)
    }
    if (this.failure !== undefined) throw this.failure
    return used
  }

  destroy (): void {
    this.inflate.destroy()
  }
}
