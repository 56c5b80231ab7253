import { Uint8ArrayList } from 'uint8arraylist'
import type { Stream } from '@libp2p/interface'
import { MAX_FRAME_BYTES, MAX_LENGTH_PREFIX_BYTES, READ_HIGH_WATER_BYTES } from './constants.js'
import { BufferBudgetError, FrameTooLargeError, InvalidMessageError, UnexpectedEndError } from './errors.js'
import type { PeerBudget } from './budget.js'

export interface FrameReaderInit {
  /** @default MAX_FRAME_BYTES */
  maxFrameBytes?: number
  /** @default READ_HIGH_WATER_BYTES */
  highWaterBytes?: number
  /** The peer's share of the node's buffer budget; without one, only the per-stream bounds apply. */
  budget?: PeerBudget
}

/**
 * Reads unsigned-varint length-prefixed frames from a libp2p message stream. The length is
 * checked against the cap before any of the body is buffered as a frame, and the stream is
 * paused while too much is unread, so a fast sender cannot make us buffer without bound.
 */
export class FrameReader {
  private readonly buffer = new Uint8ArrayList()
  private readonly maxFrameBytes: number
  private readonly highWaterBytes: number
  private ended = false
  private failure?: Error
  private wake?: () => void
  private readonly budget?: PeerBudget
  /** Bytes of `buffer` counted against the budget. */
  private reserved = 0
  /** Bytes read off the stream so far, prefixes included. */
  bytesRead = 0

  constructor (private readonly stream: Stream, init: FrameReaderInit = {}) {
    this.maxFrameBytes = init.maxFrameBytes ?? MAX_FRAME_BYTES
    this.highWaterBytes = init.highWaterBytes ?? READ_HIGH_WATER_BYTES
    this.budget = init.budget
    stream.addEventListener('message', (evt) => {
      // A reader that failed keeps nothing more of its stream.
      if (this.failure !== undefined) return
      this.buffer.append(evt.data)
      this.bytesRead += evt.data.byteLength
      if (this.budget !== undefined) {
        this.reserved += evt.data.byteLength
        if (!this.budget.reserve(evt.data.byteLength)) {
          // Over budget: whole frames wait for their reader (the stream pauses until it reads
          // them); a frame that is not whole may not grow, so the stream is reset at once, as
          // libp2p resets a stream over its protocol's limit: a reply would let the peer go on
          // sending until it was written.
          if (!this.holdsWholeFrame()) {
            const err = new BufferBudgetError(`the peer's unfinished frames hold more than its buffer budget allows (${this.reserved} bytes on this stream)`)
            this.budget.overran()
            this.fail(err)
            stream.abort(err)
            return
          }
          if (stream.readStatus === 'readable') stream.pause()
        }
      }
      if (this.buffer.byteLength > this.highWaterBytes && stream.readStatus === 'readable') stream.pause()
      this.notify()
    })
    stream.addEventListener('remoteCloseWrite', () => { this.ended = true; this.notify() })
    stream.addEventListener('close', (evt) => {
      if (evt.error != null) this.failure ??= evt.error
      this.ended = true
      // Nothing more arrives: what is still buffered is handed out from memory already counted.
      this.releaseAll()
      this.notify()
    })
  }

  private holdsWholeFrame (): boolean {
    try {
      const header = this.parseLength()
      return header !== undefined && this.buffer.byteLength >= header[0] + header[1]
    } catch {
      return false
    }
  }

  /**
   * The reader is done with its stream: what it buffers is dropped and released at once, and
   * whatever else arrives is ignored, so bytes a peer sends after its request never count.
   */
  dispose (): void {
    if (this.failure === undefined) this.fail(new UnexpectedEndError('the reader was disposed'))
  }

  private fail (err: Error): void {
    this.failure = err
    this.buffer.consume(this.buffer.byteLength)
    this.releaseAll()
    this.notify()
  }

  private release (bytes: number): void {
    const count = Math.min(bytes, this.reserved)
    if (count === 0) return
    this.reserved -= count
    this.budget?.release(count)
  }

  private releaseAll (): void {
    this.release(this.reserved)
  }

  private notify (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  private async waitForData (signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    // We wait only when the buffer holds no whole frame, so more bytes are needed whatever its size
    // (a frame is bounded by maxFrameBytes): a paused stream must be resumed or it would never come.
    const before = this.bytesRead
    if (this.stream.readStatus === 'paused') this.stream.resume()
    // resume() may hand over what the stream held at once, before anyone waits for it.
    if (this.bytesRead !== before) return
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { reject(signal?.reason) }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.wake = () => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
    })
  }

  /** The next frame's body, or null when the stream ended cleanly between frames. */
  async read (options: { signal?: AbortSignal } = {}): Promise<Uint8Array | null> {
    // A cancelled reader stops even when frames are already buffered.
    options.signal?.throwIfAborted()
    while (true) {
      // A reset or aborted stream is dead: frames still buffered from it are not handed out.
      if (this.failure !== undefined) throw this.failure
      const header = this.parseLength()
      if (header !== undefined) {
        const [length, prefixBytes] = header
        if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes)
        if (this.buffer.byteLength >= prefixBytes + length) {
          const body = this.buffer.subarray(prefixBytes, prefixBytes + length)
          this.buffer.consume(prefixBytes + length)
          // The frame now belongs to its reader: it no longer counts as buffered.
          if (this.buffer.byteLength < this.reserved) this.release(this.reserved - this.buffer.byteLength)
          return body
        }
      }
      // The remote may have finished while we had the stream paused: what it holds is still ours.
      if (this.ended && this.failure === undefined && this.stream.readBufferLength > 0) {
        await this.waitForData(options.signal)
        continue
      }
      if (this.ended) {
        if (this.failure !== undefined) throw this.failure
        if (this.buffer.byteLength === 0) return null
        throw new UnexpectedEndError(`stream ended inside a frame (${this.buffer.byteLength} bytes unread)`)
      }
      await this.waitForData(options.signal)
    }
  }

  /** [length, prefix bytes] when a whole varint prefix is buffered. */
  private parseLength (): [number, number] | undefined {
    let value = 0
    const available = Math.min(this.buffer.byteLength, MAX_LENGTH_PREFIX_BYTES)
    for (let i = 0; i < available; i++) {
      const byte = this.buffer.get(i)
      value += (byte & 0x7f) * 2 ** (7 * i)
      if ((byte & 0x80) === 0) return [value, i + 1]
    }
    if (available === MAX_LENGTH_PREFIX_BYTES) {
      throw new InvalidMessageError(`frame length prefix longer than ${MAX_LENGTH_PREFIX_BYTES} bytes`)
    }
    return undefined
  }
}

/** Encodes the unsigned varint length prefix of a frame. */
export function lengthPrefix (length: number): Uint8Array {
  const bytes: number[] = []
  let value = length
  do {
    let byte = value & 0x7f
    value = Math.floor(value / 128)
    if (value > 0) byte |= 0x80
    bytes.push(byte)
  } while (value > 0)
  return Uint8Array.from(bytes)
}

/**
 * Writes one frame, waiting for the stream's 'drain' event when its send buffer is full.
 * (Not `stream.onDrain()`: in @libp2p/utils 7.4 its promise stays resolved after the first drain,
 * so every later wait would return at once and the sender would buffer without bound.)
 */
export async function writeFrame (stream: Stream, body: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<number> {
  const frame = new Uint8ArrayList(lengthPrefix(body.byteLength), body)
  if (!stream.send(frame)) await waitForDrain(stream, options.signal)
  return frame.byteLength
}

async function waitForDrain (stream: Stream, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    const onDrain = (): void => { cleanup(); resolve() }
    const onClose = (evt: Event): void => { cleanup(); reject((evt as Event & { error?: Error }).error ?? new UnexpectedEndError('stream closed while waiting to send')) }
    const onAbort = (): void => { cleanup(); reject(signal?.reason) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}
