import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddrConnectionPair, streamPair } from '@libp2p/utils'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Stream, StreamMuxer } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { FrameReader, lengthPrefix, writeFrame } from '../../../src/wire/frames.js'
import { BufferBudget } from '../../../src/wire/budget.js'
import { MessageChannel } from '../../../src/wire/channel.js'
import { encodeCbor } from '../../../src/wire/codec.js'
import { FrameTooLargeError, InvalidMessageError, UnexpectedEndError } from '../../../src/wire/errors.js'
import { MAX_FRAME_BYTES, READ_HIGH_WATER_BYTES } from '../../../src/wire/constants.js'
import { MAX_STREAM_READ_BUFFER_BYTES, MAX_STREAM_WINDOW_BYTES } from '../../../src/net/constants.js'
import { FetcherInbound, ServerInbound, type FetcherMessage, type Want } from '../../../src/exchange/messages.js'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

async function rejectionOf (promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (err) {
    return err as Error
  }
  throw new Error('expected the promise to reject')
}

/** Waits (in short polls, up to 2 s) for a condition the stream events make true. */
async function waitFor (condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

/** A body whose every byte depends on its index, so a misplaced or lost slice shows. */
function body (index: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = (index * 31 + i * 7) & 0xff
  return bytes
}

describe('lengthPrefix', () => {
  it('is the minimal unsigned varint of the length', () => {
    expect(hex(lengthPrefix(0))).toBe('00')
    expect(hex(lengthPrefix(127))).toBe('7f')
    expect(hex(lengthPrefix(128))).toBe('8001')
    expect(hex(lengthPrefix(300))).toBe('ac02')
    expect(hex(lengthPrefix(16_384))).toBe('808001')
    expect(hex(lengthPrefix(MAX_FRAME_BYTES))).toBe('80808002')
    expect(hex(lengthPrefix(2 ** 28 - 1))).toBe('ffffff7f')
  })
})

describe('FrameReader and writeFrame over an in-memory stream pair', () => {
  let streams: Stream[] = []
  const pair = async (): Promise<[Stream, Stream]> => {
    const [outbound, inbound] = await streamPair()
    streams.push(outbound, inbound)
    return [outbound, inbound]
  }

  afterEach(() => {
    for (const stream of streams) stream.abort(new Error('test over'))
    streams = []
  })

  it('carries several frames intact, one of them larger than 64 KiB and split across messages', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    let messages = 0
    inbound.addEventListener('message', () => { messages++ })
    const sizes = [0, 1, 127, 128, 16_384, 300 * 1024, 5]
    const bodies = sizes.map((size, i) => body(i, size))

    let written = 0
    for (const frame of bodies) written += await writeFrame(outbound, frame)
    await outbound.close()

    for (const expected of bodies) {
      const frame = await reader.read()
      expect(frame?.byteLength).toBe(expected.byteLength)
      expect(hex(frame!)).toBe(hex(expected))
    }
    expect(await reader.read()).toBeNull()
    expect(written).toBe(sizes.reduce((sum, size) => sum + lengthPrefix(size).byteLength + size, 0))
    expect(reader.bytesRead).toBe(written)
    // The mock network cuts messages at 64 KiB: the 300 KiB frame arrived in at least five pieces.
    expect(messages).toBeGreaterThanOrEqual(5)
  })

  it('reads frames that share one message', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    const joined = Uint8Array.from([...lengthPrefix(2), 1, 2, ...lengthPrefix(0), ...lengthPrefix(3), 3, 4, 5])
    outbound.send(joined)
    await outbound.close()
    expect([...(await reader.read())!]).toEqual([1, 2])
    expect([...(await reader.read())!]).toEqual([])
    expect([...(await reader.read())!]).toEqual([3, 4, 5])
    expect(await reader.read()).toBeNull()
  })

  it('accepts a frame of exactly maxFrameBytes', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound, { maxFrameBytes: 1000 })
    await writeFrame(outbound, body(1, 1000))
    expect(hex((await reader.read())!)).toBe(hex(body(1, 1000)))
  })

  it('throws FrameTooLargeError from the prefix alone, before any of the body arrives', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    const prefix = lengthPrefix(MAX_FRAME_BYTES + 1)
    outbound.send(prefix) // only the prefix: the stream stays open and no body follows

    const err = await rejectionOf(reader.read())
    expect(err).toBeInstanceOf(FrameTooLargeError)
    expect(err.name).toBe('FrameTooLargeError')
    expect((err as FrameTooLargeError).bytes).toBe(MAX_FRAME_BYTES + 1)
    expect((err as FrameTooLargeError).limit).toBe(MAX_FRAME_BYTES)
    expect(reader.bytesRead).toBe(prefix.byteLength)
  })

  it('applies a configured maxFrameBytes the same way', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound, { maxFrameBytes: 1000 })
    outbound.send(lengthPrefix(1001))
    const err = await rejectionOf(reader.read())
    expect(err).toBeInstanceOf(FrameTooLargeError)
    expect((err as FrameTooLargeError).limit).toBe(1000)
  })

  it('throws InvalidMessageError on a length prefix longer than 4 bytes', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    outbound.send(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))
    const err = await rejectionOf(reader.read())
    expect(err).toBeInstanceOf(InvalidMessageError)
    expect(err.name).toBe('InvalidMessageError')
  })

  it('throws InvalidMessageError on a 5-byte prefix even when its fifth byte ends it', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    outbound.send(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x00]))
    await outbound.close()
    const err = await rejectionOf(reader.read())
    expect(err).toBeInstanceOf(InvalidMessageError)
  })

  it('throws UnexpectedEndError when the stream ends inside a frame body', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    outbound.send(Uint8Array.from([...lengthPrefix(10), 1, 2, 3]))
    await outbound.close()
    const err = await rejectionOf(reader.read())
    expect(err).toBeInstanceOf(UnexpectedEndError)
    expect(err.name).toBe('UnexpectedEndError')
  })

  it('throws UnexpectedEndError when the stream ends inside a length prefix', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    await writeFrame(outbound, body(0, 3))
    outbound.send(Uint8Array.from([0x80]))
    await outbound.close()
    expect((await reader.read())?.byteLength).toBe(3)
    expect(await rejectionOf(reader.read())).toBeInstanceOf(UnexpectedEndError)
  })

  it('returns null on a clean end between frames, and again when asked again', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    await writeFrame(outbound, body(0, 4))
    await outbound.close()
    expect((await reader.read())?.byteLength).toBe(4)
    expect(await reader.read()).toBeNull()
    expect(await reader.read()).toBeNull()
  })

  it('returns null at once on a stream closed before any frame', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    await outbound.close()
    expect(await reader.read()).toBeNull()
  })

  it('fails with the reset when the remote resets the stream', async () => {
    const [outbound, inbound] = await pair()
    const reader = new FrameReader(inbound)
    const pending = reader.read()
    outbound.abort(new Error('remote gave up'))
    const err = await rejectionOf(pending)
    expect(err.name).toBe('StreamResetError')
  })

  it('counts what it buffers against the peer budget, hands whole frames on, and resets a stream whose unfinished frame would pass it', async () => {
    const budget = new BufferBudget({ peerBytes: 1000, daemonBytes: 10_000 })
    const [outA, inA] = await pair()
    const [outB, inB] = await pair()
    const a = new FrameReader(inA, { budget: budget.forPeer('peer') })
    const b = new FrameReader(inB, { budget: budget.forPeer('peer') })
    outA.send(Uint8Array.from([...lengthPrefix(900), ...new Uint8Array(600)]))
    await waitFor(() => budget.bytesOf('peer') === 602)
    // Whole frames are read and released; B's unfinished frame would take the peer past 1000.
    await writeFrame(outB, body(1, 10))
    expect((await b.read())?.byteLength).toBe(10)
    expect(budget.bytesOf('peer')).toBe(602)
    outB.send(Uint8Array.from([...lengthPrefix(900), ...new Uint8Array(500)]))
    const err = await rejectionOf(b.read())
    expect(err.name).toBe('BufferBudgetError')
    expect(budget.bytesOf('peer')).toBe(602)
    await waitFor(() => inB.status !== 'open')
    // A's frame completes and is handed on; disposing the reader releases the rest.
    outA.send(new Uint8Array(300))
    expect((await a.read())?.byteLength).toBe(900)
    expect(budget.bytes).toBe(0)
    outA.send(Uint8Array.from([...lengthPrefix(50), 1, 2]))
    await waitFor(() => budget.bytes === 3)
    a.dispose()
    expect(budget.bytes).toBe(0)
    expect(budget.bytesOf('peer')).toBe(0)
  })

  it('stops waiting when its signal aborts', async () => {
    const [, inbound] = await pair()
    const reader = new FrameReader(inbound)
    const controller = new AbortController()
    const pending = reader.read({ signal: controller.signal })
    controller.abort(new Error('caller gave up'))
    expect((await rejectionOf(pending)).message).toBe('caller gave up')
  })
})

describe('MessageChannel', () => {
  let streams: Stream[] = []
  const channels = async (): Promise<{ fetcher: MessageChannel<FetcherMessage, Want>, server: MessageChannel<Want, FetcherMessage>, outbound: Stream, inbound: Stream }> => {
    const [outbound, inbound] = await streamPair()
    streams.push(outbound, inbound)
    return {
      fetcher: new MessageChannel<FetcherMessage, Want>(outbound, FetcherInbound),
      server: new MessageChannel<Want, FetcherMessage>(inbound, ServerInbound),
      outbound,
      inbound
    }
  }
  const oid = (n: number): Uint8Array => new Uint8Array(20).fill(n)

  afterEach(() => {
    for (const stream of streams) stream.abort(new Error('test over'))
    streams = []
  })

  it('carries a want one way and a whole response the other, counting the same bytes on both ends', async () => {
    const { fetcher, server, outbound } = await channels()
    await fetcher.send({ type: 'want', wants: [oid(1)], haves: [oid(2), oid(3)], skip: [] })
    const want = await server.receive()
    expect(want?.type).toBe('want')
    expect(want?.wants.map(hex)).toEqual([hex(oid(1))])
    expect(want?.haves.map(hex)).toEqual([hex(oid(2)), hex(oid(3))])
    expect(want?.skip).toEqual([])

    const response: FetcherMessage[] = [
      { type: 'accept', objects: 2, packs: 1 },
      { type: 'pack', objects: [oid(4), oid(5)] },
      { type: 'data', bytes: body(9, 100 * 1024) },
      { type: 'done' }
    ]
    for (const message of response) await server.send(message)
    await server.stream.close()
    for (const expected of response) {
      const message = await fetcher.receive()
      expect(message?.type).toBe(expected.type)
      expect(hex(encodeCbor(message))).toBe(hex(encodeCbor(expected)))
    }
    await outbound.close()
    expect(await fetcher.receive()).toBeNull()
    expect(fetcher.bytesWritten).toBe(server.bytesRead)
    expect(server.bytesWritten).toBe(fetcher.bytesRead)
    expect(server.bytesWritten).toBeGreaterThan(100 * 1024)
  })

  const invalid: Array<[string, unknown]> = [
    ['an unknown message type', { type: 'nack' }],
    ['a message without a type', { objects: 1, packs: 1 }],
    ['an extra key', { type: 'done', extra: true }],
    ['a count of the wrong type', { type: 'accept', objects: '2', packs: 1 }],
    ['pack data of the wrong type', { type: 'data', bytes: 'UEFDSw==' }],
    ['an object id of 19 bytes', { type: 'pack', objects: [new Uint8Array(19)] }],
    ['an unknown refusal code', { type: 'refuse', code: 'nope', message: '' }],
    ['a want sent to the fetcher', { type: 'want', wants: [oid(1)], haves: [], skip: [] }],
    ['a value that is not a map', ['done']]
  ]
  for (const [what, value] of invalid) {
    it(`rejects ${what} with InvalidMessageError`, async () => {
      const { fetcher, inbound } = await channels()
      await writeFrame(inbound, encodeCbor(value))
      const err = await rejectionOf(fetcher.receive())
      expect(err).toBeInstanceOf(InvalidMessageError)
      expect(err.name).toBe('InvalidMessageError')
    })
  }

  it('rejects a fetcher message sent to the server, and bytes that are not CBOR', async () => {
    const { server, outbound } = await channels()
    await writeFrame(outbound, encodeCbor({ type: 'done' }))
    expect(await rejectionOf(server.receive())).toBeInstanceOf(InvalidMessageError)

    const second = await channels()
    await writeFrame(second.outbound, Uint8Array.from([0xa1, 0x64]))
    expect(await rejectionOf(second.server.receive())).toBeInstanceOf(InvalidMessageError)
  })

  it('names the offending field in the error', async () => {
    const { fetcher, inbound } = await channels()
    await writeFrame(inbound, encodeCbor({ type: 'accept', objects: -1, packs: 0 }))
    expect((await rejectionOf(fetcher.receive())).message).toMatch(/objects/)
  })

  it('passes its frame limit to the reader', async () => {
    const [outbound, inbound] = await streamPair()
    streams.push(outbound, inbound)
    const server = new MessageChannel<Want, FetcherMessage>(inbound, ServerInbound, { maxFrameBytes: 64 })
    const fetcher = new MessageChannel<FetcherMessage, Want>(outbound, FetcherInbound)
    await fetcher.send({ type: 'want', wants: [oid(1), oid(2), oid(3)], haves: [], skip: [] })
    expect(await rejectionOf(server.receive())).toBeInstanceOf(FrameTooLargeError)
  })
})

describe('backpressure over Yamux', () => {
  // The mock muxer of streamPair ignores pause, so these run two real Yamux muxers over an
  // in-memory connection pair, configured as src/net/node.ts configures them.
  const frameBytes = 256 * 1024
  const frames = 80 // 20 MiB

  interface Rig {
    outbound: Stream
    inbound: Stream
    reader: FrameReader
    /** Resolves when the reader first pauses its stream. */
    firstPause: Promise<void>
    stats: { pauses: number, resumes: number, largestReadBuffer: number }
    close: () => void
  }

  async function rig (): Promise<Rig> {
    const streamOptions = { maxStreamWindowSize: MAX_STREAM_WINDOW_BYTES, maxReadBufferLength: MAX_STREAM_READ_BUFFER_BYTES }
    const [outboundConnection, inboundConnection] = multiaddrConnectionPair()
    const client: StreamMuxer = yamux({ streamOptions })().createStreamMuxer(outboundConnection)
    const server: StreamMuxer = yamux({ streamOptions })().createStreamMuxer(inboundConnection)
    const inboundStream = new Promise<Stream>(resolve => {
      server.addEventListener('stream', (evt) => { resolve(evt.detail) }, { once: true })
    })
    const outbound = await client.createStream()
    const inbound = await inboundStream

    // Watch the real stream without changing what it does.
    const stats = { pauses: 0, resumes: 0, largestReadBuffer: 0 }
    let resolveFirstPause!: () => void
    const firstPause = new Promise<void>(resolve => { resolveFirstPause = resolve })
    const pause = inbound.pause.bind(inbound)
    const resume = inbound.resume.bind(inbound)
    inbound.pause = () => { stats.pauses++; pause(); resolveFirstPause() }
    inbound.resume = () => { stats.resumes++; resume() }
    const muxed = inbound as unknown as { onData: (data: Uint8Array | Uint8ArrayList) => void }
    const onData = muxed.onData.bind(inbound)
    muxed.onData = (data) => {
      onData(data)
      stats.largestReadBuffer = Math.max(stats.largestReadBuffer, inbound.readBufferLength)
    }
    const close = (): void => {
      client.abort(new Error('test over'))
      server.abort(new Error('test over'))
    }
    return { outbound, inbound, reader: new FrameReader(inbound), firstPause, stats, close }
  }

  /** Reads every frame, one at a time, letting the network run between frames. */
  async function readSlowly (reader: FrameReader, digests: string[]): Promise<number> {
    let index = 0
    while (true) {
      const frame = await reader.read()
      if (frame === null) return index
      expect(createHash('sha256').update(frame).digest('hex'), `frame ${index}`).toBe(digests[index])
      index++
      await new Promise(resolve => setImmediate(resolve))
    }
  }

  function startWriter (outbound: Stream): { digests: string[], progress: { frames: number, largestWriteBuffer: number }, done: Promise<void> } {
    const digests: string[] = []
    const progress = { frames: 0, largestWriteBuffer: 0 }
    const done = (async () => {
      for (let i = 0; i < frames; i++) {
        const frame = body(i, frameBytes)
        digests.push(createHash('sha256').update(frame).digest('hex'))
        await writeFrame(outbound, frame)
        progress.frames++
        progress.largestWriteBuffer = Math.max(progress.largestWriteBuffer, outbound.writeBufferLength)
      }
      await outbound.close()
    })()
    return { digests, progress, done }
  }

  it('pauses a slow reader so its stream never buffers past the window, and delivers 20 MiB intact', async () => {
    const { outbound, inbound, reader, firstPause, stats, close } = await rig()
    try {
      const writer = startWriter(outbound)
      // Read nothing until the reader has paused its stream on its own.
      await firstPause
      expect(inbound.readStatus).toBe('paused')

      const received = await readSlowly(reader, writer.digests)
      await writer.done

      expect(received).toBe(frames)
      expect(reader.bytesRead).toBe(frames * (lengthPrefix(frameBytes).byteLength + frameBytes))
      expect(stats.pauses).toBeGreaterThanOrEqual(1)
      expect(stats.resumes).toBeGreaterThanOrEqual(1)
      // What arrived while paused stayed within the Yamux window, far under the read buffer cap.
      expect(stats.largestReadBuffer).toBeGreaterThan(0)
      expect(stats.largestReadBuffer).toBeLessThanOrEqual(MAX_STREAM_WINDOW_BYTES)
      expect(stats.largestReadBuffer).toBeLessThanOrEqual(inbound.maxReadBufferLength)
      expect(inbound.status).not.toBe('aborted')
      expect(inbound.status).not.toBe('reset')
      expect(READ_HIGH_WATER_BYTES).toBeLessThan(frames * frameBytes)
    } finally {
      close()
    }
  })

  // @libp2p/utils 7.4.1's onDrain() keeps its first resolved promise; writeFrame waits for the
  // 'drain' event itself, so the writer is held back every time the reader pauses.
  it('holds the writer back while the reader is paused, so the sender buffers little', async () => {
    const { outbound, reader, firstPause, close } = await rig()
    try {
      const writer = startWriter(outbound)
      await firstPause
      const framesAtPause = writer.progress.frames
      const received = await readSlowly(reader, writer.digests)
      await writer.done
      expect(received).toBe(frames)
      expect(framesAtPause).toBeLessThan(frames)
      // Bounded, not exact: libp2p may take a frame or a few more while a send is in progress
      // (its send() returns true then), so allow 8 frames: 2 MiB against the 20 MiB written.
      expect(writer.progress.largestWriteBuffer).toBeLessThanOrEqual(8 * frameBytes)
    } finally {
      close()
    }
  })
})
