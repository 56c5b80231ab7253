import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '@libp2p/logger'
import type { Stream } from '@libp2p/interface'
import { startTestNode, pair, type TestNode } from '../helpers/nodes.js'
import { OBJECTS_PROTOCOL } from '../../src/exchange/index.js'
import { MessageChannel } from '../../src/wire/channel.js'
import { FetcherInbound, type FetcherMessage, type Want } from '../../src/exchange/messages.js'
import { lengthPrefix } from '../../src/wire/frames.js'
import { JOBS_PROTOCOL } from '../../src/jobs/constants.js'
import { JobReply, type JobReplyMessage, type JobRequestMessage } from '../../src/jobs/messages.js'
import { jobStreamHandler } from '../../src/jobs/wire.js'

/** Short request deadlines, so the tests of silent requests take a fraction of a second. */
const REQUEST_TIMEOUT_MS = 400

type Send = (stream: Stream) => Promise<void>

/** A frame announcing 100 bytes that carries 10, then the writing side closes. */
const truncatedFrame: Send = async stream => {
  stream.send(Uint8Array.from([...lengthPrefix(100), ...new Uint8Array(10)]))
  await stream.close()
}
/** Nothing at all, the stream left open. */
const silent: Send = async () => {}
/** A length prefix and part of a body, the stream left open. */
const partial: Send = async stream => {
  stream.send(Uint8Array.from([...lengthPrefix(100), ...new Uint8Array(10)]))
}
/** Half a length prefix, the stream left open. */
const halfPrefix: Send = async stream => {
  stream.send(Uint8Array.from([0x80]))
}

const CASES: Array<[string, Send]> = [
  ['a truncated frame', truncatedFrame],
  ['a silent stream', silent],
  ['a partial frame that never completes', partial],
  ['half a length prefix that never completes', halfPrefix]
]

describe('malformed and incomplete requests are bad-request on both protocols', () => {
  let server: TestNode
  let client: TestNode

  beforeEach(async () => {
    server = await startTestNode({ requestTimeoutMs: REQUEST_TIMEOUT_MS })
    client = await startTestNode()
    await pair(server, client)
    await server.node.handle(JOBS_PROTOCOL, jobStreamHandler(async () => ({ type: 'ok' }) as JobReplyMessage, defaultLogger().forComponent('test:jobs'), { messageTimeoutMs: REQUEST_TIMEOUT_MS }))
  })

  afterEach(async () => {
    await client?.stop()
    await server?.stop()
  })

  for (const [what, send] of CASES) {
    it(`objects: ${what} is refused bad-request within the deadline`, async () => {
      const stream = await client.node.dialProtocol(server.node.peerId, OBJECTS_PROTOCOL)
      const channel = new MessageChannel<FetcherMessage, Want>(stream, FetcherInbound)
      const started = performance.now()
      await send(stream)
      const answer = await channel.receive({ signal: AbortSignal.timeout(5000) })
      expect(answer).toMatchObject({ type: 'refuse', code: 'bad-request' })
      expect(performance.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 2000)
      stream.abort(new Error('done'))
    })

    it(`jobs: ${what} is declined bad-request within the deadline`, async () => {
      const stream = await client.node.dialProtocol(server.node.peerId, JOBS_PROTOCOL)
      const channel = new MessageChannel<JobReplyMessage, JobRequestMessage>(stream, JobReply)
      const started = performance.now()
      await send(stream)
      const answer = await channel.receive({ signal: AbortSignal.timeout(5000) })
      expect(answer).toMatchObject({ type: 'decline', code: 'bad-request' })
      expect(performance.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 2000)
      stream.abort(new Error('done'))
    })
  }
})
