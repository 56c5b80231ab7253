import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Connection, Stream } from '@libp2p/interface'
import { runCliJson, startDaemon, type DaemonProcess } from '../../src/demo/processes.js'
import { waitUntil } from '../helpers/job-rig.js'
import { OBJECTS_PROTOCOL } from '../../src/exchange/constants.js'
import { JOBS_PROTOCOL } from '../../src/jobs/constants.js'
import { lengthPrefix } from '../../src/wire/frames.js'
import { MAX_FRAME_BYTES } from '../../src/wire/constants.js'
import { MAX_CONNECTIONS_PER_PEER } from '../../src/net/constants.js'
import type { IdView, MemoryView } from '../../src/daemon/views.js'

const MiB = 1024 * 1024

/**
 * What this test holds a flood to: DESIGN's target is +100 MB (95 MiB); measured +54 to +89 MiB
 * over 40 rounds on a loaded machine (docs/security.md), so the bound leaves a little room.
 */
const FLOOD_RSS_BOUND_MIB = 100

/**
 * After a flood, what the daemon holds in V8's heap and in buffers must come back to within this
 * of its baseline, within FLOOD_SETTLE_MS: the memory is returned. Resident memory is reported,
 * not asserted, since glibc keeps most freed pages for reuse (docs/security.md); that they are
 * reused is asserted instead: a second flood peaks no higher than the first, within this.
 */
const FLOOD_RETURNED_MIB = 16
const FLOOD_SETTLE_MS = 10_000

/** Resident memory of a process, from /proc. */
function rssBytes (pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? 0) * 1024
}

/** Sends a length prefix for a whole frame and all of it but its last byte; stops when the stream does. */
async function unfinishedFrame (stream: Stream, signal: AbortSignal): Promise<number> {
  let sent = 0
  const piece = new Uint8Array(256 * 1024)
  try {
    stream.send(lengthPrefix(MAX_FRAME_BYTES))
    while (sent < MAX_FRAME_BYTES - 1 && !signal.aborted) {
      const size = Math.min(piece.length, MAX_FRAME_BYTES - 1 - sent)
      if (!stream.send(piece.subarray(0, size))) {
        await new Promise<void>((resolve) => {
          const done = (): void => { stream.removeEventListener('drain', done); stream.removeEventListener('close', done); signal.removeEventListener('abort', done); resolve() }
          stream.addEventListener('drain', done)
          stream.addEventListener('close', done)
          signal.addEventListener('abort', done)
        })
        if (stream.status !== 'open') break
      }
      sent += size
    }
  } catch {
    // The daemon refused or reset the stream: that is what it should do past the budget.
  }
  return sent
}

describe('one hostile trusted peer flooding a daemon', () => {
  let root: string
  let home: string
  let daemon: DaemonProcess
  let client: Libp2p

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'gitmesh-flood-'))
    home = path.join(root, 'home')
    await runCliJson(home, ['init'])
    daemon = await startDaemon(home)
    client = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionManager: { maxConnections: 100 } })
    await runCliJson(home, ['trust', client.peerId.toString(), '--role', 'author', '--role', 'builder', '--json'])
  })

  afterAll(async () => {
    await client?.stop()
    await daemon?.stop()
    await rm(root, { recursive: true, force: true })
  })

  /** One flood: 20 connections of one peer (each dial a new one), every stream holding an unfinished 4 MiB frame. */
  async function flood (address: ReturnType<typeof multiaddr>): Promise<{ accepted: number, streams: number, sent: number, peak: number }> {
    const pid = daemon.child.pid!
    let peak = rssBytes(pid)
    const sampler = setInterval(() => { peak = Math.max(peak, rssBytes(pid)) }, 20)
    try {
      const stop = AbortSignal.timeout(3000)
      const connections = new Map<string, Connection>()
      for (let i = 0; i < 20; i++) {
        const connection = await client.dial(address, { force: true }).catch(() => undefined)
        if (connection !== undefined) connections.set(connection.id, connection)
      }
      // Connections the gater refused close once the daemon drops them; give them a moment to go.
      await waitUntil(() => [...connections.values()].filter(c => c.status === 'open').length <= 4, 5000).catch(() => {})
      const open = [...connections.values()].filter(c => c.status === 'open')
      const floods: Array<Promise<number>> = []
      for (const connection of open) {
        for (const [protocol, streams] of [[JOBS_PROTOCOL, 64], [OBJECTS_PROTOCOL, 16]] as const) {
          for (let i = 0; i < streams; i++) {
            floods.push(connection.newStream(protocol, { signal: stop }).then(async stream => await unfinishedFrame(stream, stop), () => 0))
          }
        }
      }
      const sent = (await Promise.all(floods)).reduce((a, b) => a + b, 0)
      return { accepted: open.length, streams: floods.length, sent, peak }
    } finally {
      clearInterval(sampler)
      for (const connection of client.getConnections()) connection.abort(new Error('flood over'))
    }
  }

  /** The daemon's own figures (`gitmesh id --json`). */
  async function memory (): Promise<MemoryView> {
    return (await runCliJson<IdView>(home, ['id', '--json'])).memory
  }

  it('stays bounded (within FLOOD_RSS_BOUND_MIB more), twice over, and refuses connections past the per-peer limit', async () => {
    const address = multiaddr(daemon.addrs.find(addr => addr.includes('127.0.0.1'))!)
    // Warm up: one ordinary connection, so the baseline includes what any peer costs.
    const first = await client.dial(address)
    await first.close()
    const pid = daemon.child.pid!
    const before = rssBytes(pid)
    const held = await memory()
    const peaks: number[] = []
    for (let round = 1; round <= 2; round++) {
      const result = await flood(address)
      peaks.push(result.peak)
      // Once the streams are gone the daemon collects the flood's garbage (src/daemon/reclaim.ts):
      // what it holds in V8's heap and in buffers goes back to its baseline.
      const settled = Date.now()
      let now = await memory()
      const returned = (m: MemoryView): boolean => m.heapUsed - held.heapUsed < FLOOD_RETURNED_MIB * MiB && m.arrayBuffers - held.arrayBuffers < FLOOD_RETURNED_MIB * MiB
      await waitUntil(async () => returned(now = await memory()), FLOOD_SETTLE_MS, 'the heap and buffers back at their baseline').catch(() => {})
      const after = rssBytes(pid)
      const mib = (bytes: number): string => (bytes / MiB).toFixed(0)
      console.log(`flood ${round}: ${result.accepted} of 20 connections accepted, ${result.streams} streams; daemon RSS ${mib(before)} MiB before, ${mib(result.peak)} MiB peak, ${mib(after)} MiB ${Date.now() - settled} ms after; heap ${mib(held.heapUsed)} → ${mib(now.heapUsed)} MiB, buffers ${mib(held.arrayBuffers)} → ${mib(now.arrayBuffers)} MiB`)
      // The peer's inbound connections stop at the limit; the daemon's own dial to a peer it
      // trusts as a builder is one more, outbound.
      expect(result.accepted).toBeLessThanOrEqual(MAX_CONNECTIONS_PER_PEER + 1)
      // DESIGN's target is +100 MB: the muxer refuses streams past the per-connection limit before
      // they carry data, and the daemon collects the flood's garbage as it goes (src/daemon/reclaim.ts).
      expect(result.peak - before).toBeLessThan(FLOOD_RSS_BOUND_MIB * MiB)
      expect(now.heapUsed - held.heapUsed).toBeLessThan(FLOOD_RETURNED_MIB * MiB)
      expect(now.arrayBuffers - held.arrayBuffers).toBeLessThan(FLOOD_RETURNED_MIB * MiB)
    }
    // The pages the allocator kept are reused: a second flood costs no more than the first.
    expect(peaks[1]! - peaks[0]!).toBeLessThan(FLOOD_RETURNED_MIB * MiB)
  }, 60_000)
})
