import { MAX_CONNECTIONS_PER_PEER } from '../../src/net/constants.js'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '@libp2p/logger'
import type { Stream } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createDaemonNode } from '../../src/daemon/node.js'
import { openDatabase } from '../../src/store/database.js'
import { TrustStore } from '../../src/store/trust-store.js'
import { GrantStore } from '../../src/store/grant-store.js'
import { startTestNode, type TestNode } from '../helpers/nodes.js'
import { waitUntil } from '../helpers/job-rig.js'
import { OBJECTS_PROTOCOL } from '../../src/exchange/index.js'
import { MessageChannel } from '../../src/wire/channel.js'
import { FetcherInbound, type FetcherMessage, type Want } from '../../src/exchange/messages.js'
import { lengthPrefix } from '../../src/wire/frames.js'
import { JOBS_PROTOCOL, MAX_JOB_STREAMS } from '../../src/jobs/constants.js'
import type { JobReplyMessage } from '../../src/jobs/messages.js'
import { jobStreamHandler } from '../../src/jobs/wire.js'

const REQUEST_TIMEOUT_MS = 500
const KiB = 1024

/** Sends a frame's prefix and all of it but the last byte, until the stream stops taking it. */
async function unfinishedFrame (stream: Stream, bytes: number): Promise<void> {
  try {
    stream.send(lengthPrefix(bytes))
    for (let sent = 0; sent < bytes - 1; sent += 16 * KiB) {
      if (!stream.send(new Uint8Array(Math.min(16 * KiB, bytes - 1 - sent)))) {
        await new Promise<void>(resolve => { stream.addEventListener('drain', () => { resolve() }, { once: true }); stream.addEventListener('close', () => { resolve() }, { once: true }) })
      }
      if (stream.status !== 'open') return
    }
  } catch {
    // reset by the server: expected past the budget
  }
}

describe('a flood of unfinished frames from one trusted peer', () => {
  let server: Awaited<ReturnType<typeof createDaemonNode>>
  let serverDir: string
  let trust: TrustStore
  let client: TestNode

  beforeEach(async () => {
    serverDir = await mkdtemp(path.join(tmpdir(), 'gitmesh-flood-'))
    const db = openDatabase(path.join(serverDir, 'gitmesh.db'))
    trust = new TrustStore(db)
    // A small budget, so a flood of a few MiB reaches it.
    server = await createDaemonNode({ privateKey: await generateKeyPair('Ed25519'), trust, grants: new GrantStore(db), listen: ['/ip4/127.0.0.1/tcp/0'], exchange: { requestTimeoutMs: REQUEST_TIMEOUT_MS }, buffers: { peerBytes: 1024 * KiB, daemonBytes: 2048 * KiB } })
    await server.handle(JOBS_PROTOCOL, jobStreamHandler(async () => ({ type: 'ok' }) as JobReplyMessage, defaultLogger().forComponent('test:jobs'), { messageTimeoutMs: REQUEST_TIMEOUT_MS, budget: server.services.buffers }), { maxInboundStreams: MAX_JOB_STREAMS })
    client = await startTestNode()
    trust.trust(client.peerId, ['author', 'builder'], [])
    client.trust.trust(server.peerId.toString(), ['author', 'builder'], [])
    await client.node.peerStore.merge(server.peerId, { multiaddrs: server.getMultiaddrs() })
  })

  afterEach(async () => {
    await client?.stop()
    await server?.stop()
    await rm(serverDir, { recursive: true, force: true })
  })

  it('holds at most the peer budget, gives it all back when the streams close, and every deadline still fires', async () => {
    const budget = server.services.buffers
    let peak = 0
    const sampler = setInterval(() => { peak = Math.max(peak, budget.bytes) }, 1)
    const streams: Stream[] = []
    const floods: Array<Promise<void>> = []
    for (const [protocol, count] of [[JOBS_PROTOCOL, 40], [OBJECTS_PROTOCOL, 12]] as const) {
      for (let i = 0; i < count; i++) {
        const stream = await client.node.dialProtocol(server.peerId, protocol)
        streams.push(stream)
        floods.push(unfinishedFrame(stream, 256 * KiB))
      }
    }
    await Promise.all(floods)
    clearInterval(sampler)
    // 52 streams × 256 KiB were offered; the peer never held more than its budget and a chunk.
    expect(peak).toBeGreaterThan(512 * KiB)
    expect(peak).toBeLessThanOrEqual(1024 * KiB + 64 * KiB)
    const reset = streams.filter(stream => stream.status !== 'open').length
    expect(reset).toBeGreaterThan(0)

    // After the flood, a partial request on the objects protocol still meets its deadline.
    const started = performance.now()
    const late = await client.node.dialProtocol(server.peerId, OBJECTS_PROTOCOL)
    late.send(Uint8Array.from([...lengthPrefix(100), 1, 2, 3]))
    const answer = await new MessageChannel<FetcherMessage, Want>(late, FetcherInbound).receive({ signal: AbortSignal.timeout(5000) })
    expect(answer).toMatchObject({ type: 'refuse', code: 'bad-request' })
    expect(performance.now() - started).toBeLessThan(REQUEST_TIMEOUT_MS + 2000)

    // Every flooded stream is closed by its deadline, and with it every byte it held.
    await waitUntil(() => budget.bytes === 0 && budget.bytesOf(client.peerId) === 0, 5000)
    for (const stream of streams) stream.abort(new Error('done'))
  })

  it('refuses connections of one peer past MAX_CONNECTIONS_PER_PEER, even dialled all at once', async () => {
    const address = server.getMultiaddrs()[0]!
    // Dialled together from one peer: none is open yet when the gater decides on the others.
    await Promise.allSettled(Array.from({ length: 10 }, async () => await client.node.dial(address, { force: true, signal: AbortSignal.timeout(5000) })))
    await waitUntil(() => server.getConnections(client.node.peerId).length > 0, 5000)
    // Connections refused after the handshake are dropped by the server; what stays is the limit.
    await waitUntil(() => server.getConnections(client.node.peerId).length <= MAX_CONNECTIONS_PER_PEER, 5000)
    expect(server.getConnections(client.node.peerId).length).toBeLessThanOrEqual(MAX_CONNECTIONS_PER_PEER)
    for (let i = 0; i < 6; i++) await client.node.dial(address, { force: true }).catch(() => undefined)
    await waitUntil(() => server.getConnections(client.node.peerId).length <= MAX_CONNECTIONS_PER_PEER, 5000)
    expect(server.getConnections(client.node.peerId).length).toBe(MAX_CONNECTIONS_PER_PEER)
  })
})
