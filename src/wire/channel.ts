import type { Stream } from '@libp2p/interface'
import type { z } from 'zod'
import { decodeCbor, encodeCbor } from './codec.js'
import { InvalidMessageError } from './errors.js'
import { FrameReader, writeFrame, type FrameReaderInit } from './frames.js'

/**
 * Typed messages over one stream: frame, then decode, then validate against the protocol's
 * schema. Anything that fails a step is `InvalidMessageError` (or `FrameTooLargeError`).
 */
export class MessageChannel<In, Out> {
  private readonly reader: FrameReader
  /** Frame bytes written so far, prefixes included. */
  bytesWritten = 0

  constructor (
    readonly stream: Stream,
    private readonly inbound: z.ZodType<In>,
    init: FrameReaderInit = {}
  ) {
    this.reader = new FrameReader(stream, init)
  }

  get bytesRead (): number {
    return this.reader.bytesRead
  }

  async send (message: Out, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.bytesWritten += await writeFrame(this.stream, encodeCbor(message), options)
  }

  /** Stops reading: buffered bytes are released from the budget and later ones ignored. */
  dispose (): void {
    this.reader.dispose()
  }

  /** The next message, or null when the peer closed its side cleanly between messages. */
  async receive (options: { signal?: AbortSignal } = {}): Promise<In | null> {
    const frame = await this.reader.read(options)
    if (frame === null) return null
    return parseMessage(this.inbound, decodeCbor(frame))
  }
}

/** Validates a decoded value against a schema, naming the first problem in the error. */
export function parseMessage<T> (schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]
    const where = issue === undefined || issue.path.length === 0 ? 'message' : issue.path.join('.')
    throw new InvalidMessageError(`invalid ${where}: ${issue?.message ?? 'does not match the schema'}`)
  }
  return result.data
}
