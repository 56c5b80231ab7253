import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, readdir, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { ping } from '@libp2p/ping'
import { identify } from '@libp2p/identify'
import type { Stream } from '@libp2p/interface'
import { startTestNode, pair, type TestNode } from '../helpers/nodes.js'
import { waitUntil } from '../helpers/job-rig.js'
import { OBJECTS_PROTOCOL } from '../../src/exchange/index.js'
import { MessageChannel } from '../../src/wire/channel.js'
import { FetcherInbound, ServerInbound, type FetcherMessage, type Want } from '../../src/exchange/messages.js'
import { encodeCbor } from '../../src/wire/codec.js'
import { lengthPrefix } from '../../src/wire/frames.js'
import { oidToBytes } from '../../src/git/oid.js'
import { objectId, writePack, type PackInput } from '../../src/git/pack-format.js'
import { MAX_OBJECT_BYTES } from '../../src/git/constants.js'

const ENV = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' }
function git (cwd: string, args: string[], input?: string | Buffer): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: ENV, input }).trim()
}
function gitBuffer (cwd: string, args: string[], input?: string | Buffer): Buffer {
  return execFileSync('git', args, { cwd, env: ENV, input })
}

async function makeRepo (dir: string, files: number): Promise<string> {
  await mkdir(dir, { recursive: true })
  git(dir, ['init', '-q'])
  for (let i = 0; i < files; i++) {
    await mkdir(path.join(dir, `d${i % 5}`), { recursive: true })
    await writeFile(path.join(dir, `d${i % 5}`, `f${i}.txt`), `content ${i}\n`.repeat(10))
  }
  git(dir, ['add', '-A'])
  git(dir, ['commit', '-q', '-m', 'init'])
  return git(dir, ['rev-parse', 'HEAD'])
}

/** Sends raw bytes on a fresh object-exchange stream and returns the server's first answer. */
async function rawRequest (from: TestNode, to: TestNode, bytes: Uint8Array): Promise<FetcherMessage | null> {
  const stream = await from.node.dialProtocol(to.node.peerId, OBJECTS_PROTOCOL)
  const channel = new MessageChannel<FetcherMessage, Want>(stream, FetcherInbound)
  stream.send(bytes)
  const answer = await channel.receive({ signal: AbortSignal.timeout(5000) })
  stream.abort(new Error('done'))
  return answer
}

/** Replaces a node's object service with a handler that answers every request with `respond`. */
async function serveHostile (node: TestNode, respond: (channel: MessageChannel<Want, FetcherMessage>) => Promise<void>): Promise<void> {
  await node.node.unhandle(OBJECTS_PROTOCOL)
  await node.node.handle(OBJECTS_PROTOCOL, async (stream: Stream) => {
    const channel = new MessageChannel<Want, FetcherMessage>(stream, ServerInbound)
    await channel.receive()
    await respond(channel)
    await stream.close()
  })
}

describe('bad input from the network', () => {
  let author: TestNode
  let builder: TestNode
  let scratch: string
  let repo: string
  let commit: string

  beforeEach(async () => {
    author = await startTestNode({ objectsPerPack: 10 })
    builder = await startTestNode()
    await pair(author, builder)
    scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-hostile-'))
    repo = path.join(scratch, 'author')
    commit = await makeRepo(repo, 30)
    author.grants.add(builder.peerId, commit, repo)
  })

  afterEach(async () => {
    await author?.stop()
    await builder?.stop()
    await rm(scratch, { recursive: true, force: true })
  })

  it('answers malformed, oversized and unknown messages with bad-request and keeps serving', async () => {
    const garbage = Uint8Array.from([0xff, 0xfe, 0x00])
    const cases: Uint8Array[] = [
      Uint8Array.from([...lengthPrefix(garbage.length), ...garbage]),
      lengthPrefix(64 * 1024 * 1024),
      (() => { const body = encodeCbor({ type: 'hello' }); return Uint8Array.from([...lengthPrefix(body.length), ...body]) })(),
      (() => { const body = encodeCbor({ type: 'want', wants: [oidToBytes(commit)], haves: [], skip: [], extra: 1 }); return Uint8Array.from([...lengthPrefix(body.length), ...body]) })(),
      (() => { const body = encodeCbor({ type: 'want', wants: [Uint8Array.from([1, 2, 3])], haves: [], skip: [] }); return Uint8Array.from([...lengthPrefix(body.length), ...body]) })()
    ]
    for (const bytes of cases) {
      const answer = await rawRequest(builder, author, bytes)
      expect(answer).toMatchObject({ type: 'refuse', code: 'bad-request' })
    }
    const into = path.join(scratch, 'builder')
    const report = await builder.node.services.exchange.fetch(author.node.peerId, [commit], into)
    expect(report.roundTrips).toBe(1)
    git(into, ['fsck', '--strict'])
  })

  it('rejects objects whose bytes do not match their declared ids and stores nothing', async () => {
    const evilRepo = path.join(scratch, 'evil')
    await makeRepo(evilRepo, 1)
    const blob = git(evilRepo, ['hash-object', '-w', '--stdin'], 'what was sent\n')
    const pack = gitBuffer(evilRepo, ['pack-objects', '--stdout', '-q'], blob + '\n')
    const claimed = git(evilRepo, ['hash-object', '--stdin'], 'what was asked for\n')
    await serveHostile(author, async channel => {
      await channel.send({ type: 'accept', objects: 1, packs: 1 })
      await channel.send({ type: 'pack', objects: [oidToBytes(claimed)] })
      await channel.send({ type: 'data', bytes: pack })
      await channel.send({ type: 'done' })
    })
    const into = path.join(scratch, 'builder')
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], into)).rejects.toMatchObject({ name: 'ObjectMismatchError' })
    expect(await readdir(path.join(into, '.git/objects/pack'))).toEqual([])
    expect((await readdir(path.join(into, '.git/objects'))).filter(name => name.startsWith('incoming'))).toEqual([])
  })

  it('removes the quarantine folders a killed process left, and keeps those of a running one', async () => {
    const into = path.join(scratch, 'builder')
    git(scratch, ['init', '-q', into])
    const objects = path.join(into, '.git/objects')
    // A process that has exited: its pid names no running process (a killed daemon's pack, half indexed).
    const dead = spawnSync(process.execPath, ['-e', '']).pid
    await mkdir(path.join(objects, `incoming-gitmesh-${dead}-AbCdEf/pack`), { recursive: true })
    await writeFile(path.join(objects, `incoming-gitmesh-${dead}-AbCdEf/pack/tmp_pack_XyZ`), 'PACK half a pack')
    await mkdir(path.join(objects, 'incoming-gitmesh-Legacy'))
    const live = `incoming-gitmesh-${process.pid}-LiVeOn`
    await mkdir(path.join(objects, live))
    const report = await builder.node.services.exchange.fetch(author.node.peerId, [commit], into)
    expect(report.roundTrips).toBe(1)
    expect((await readdir(objects)).filter(name => name.startsWith('incoming'))).toEqual([live])
    git(into, ['fsck', '--strict'])
  })

  it('removes the quarantine of a process killed during index-pack', async () => {
    const into = path.join(scratch, 'builder')
    git(scratch, ['init', '-q', into])
    const objects = path.join(into, '.git/objects')
    // A real receivePack in another process, fed a pack header and then nothing: it sits in
    // index-pack until it is killed.
    const store = fileURLToPath(new URL('../../dist/git/object-store.js', import.meta.url))
    const script = `import { ObjectStore } from ${JSON.stringify(store)}
      const store = await ObjectStore.open(process.argv[1])
      async function * source () { yield Buffer.from('PACK\\0\\0\\0\\x02\\0\\0\\0\\x05', 'latin1'); await new Promise(() => {}) }
      await store.receivePack(source(), () => {})`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, into], { stdio: 'ignore' })
    try {
      await waitUntil(async () => (await readdir(objects)).some(name => name.startsWith(`incoming-gitmesh-${child.pid}-`)), 10_000)
    } finally {
      child.kill('SIGKILL')
    }
    await new Promise(resolve => child.once('exit', resolve))
    expect((await readdir(objects)).filter(name => name.startsWith('incoming'))).toHaveLength(1)
    const report = await builder.node.services.exchange.fetch(author.node.peerId, [commit], into)
    expect(report.roundTrips).toBe(1)
    expect((await readdir(objects)).filter(name => name.startsWith('incoming'))).toEqual([])
  })

  it('refuses a 5 KB pack of 102 objects whose delta makes a 1 GiB blob, before index-pack builds it', async () => {
    // 102 objects: over the in-process limit (64), so the pack goes the index-pack way.
    const base = Buffer.alloc(0x10000, 0x61)
    const blobs: PackInput[] = [{ type: 'blob', body: base }]
    for (let i = 1; i < 101; i++) blobs.push({ type: 'blob', body: Buffer.from(`filler ${i}\n`) })
    // A delta of 16,384 one-byte copies of the whole base: 1 GiB.
    const copies = 16_384
    const sizes = (value: number): number[] => { const out: number[] = []; do { out.push((value & 0x7f) | (value >= 128 ? 0x80 : 0)); value = Math.floor(value / 128) } while (value > 0); return out }
    const delta = Uint8Array.from([...sizes(base.length), ...sizes(copies * 0x10000), ...new Array<number>(copies).fill(0x80)])
    const baseId = objectId('blob', base)
    const pack = writePack([...blobs, { refDelta: baseId, delta }])
    expect(pack.length).toBeLessThan(5000)
    const declared = [...blobs.map(blob => 'body' in blob ? objectId('blob', blob.body) : ''), 'b'.repeat(40)]
    await serveHostile(author, async channel => {
      await channel.send({ type: 'accept', objects: declared.length, packs: 1 })
      await channel.send({ type: 'pack', objects: declared.map(oidToBytes) })
      await channel.send({ type: 'data', bytes: pack })
      await channel.send({ type: 'done' })
    })
    const into = path.join(scratch, 'builder')
    const started = performance.now()
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], into)).rejects.toMatchObject({ name: 'ObjectTooLargeError', bytes: 1024 ** 3, limit: MAX_OBJECT_BYTES })
    expect(performance.now() - started).toBeLessThan(5000)
    expect(await readdir(path.join(into, '.git/objects/pack'))).toEqual([])
    expect((await readdir(path.join(into, '.git/objects'))).filter(name => name.startsWith('incoming'))).toEqual([])
  })

  // Broken packs, on both paths: 3 objects are read in-process, 70 go through index-pack.
  for (const count of [3, 70]) {
    const blobs = Array.from({ length: count }, (_, i) => Buffer.from(`blob ${i} `.repeat(20)))
    const declared = blobs.map(body => objectId('blob', body))
    const whole = writePack(blobs.map(body => ({ type: 'blob' as const, body })))
    // An entry header (the first object's) that claims 1 GiB: type blob, size 2^30 as a varint.
    const giantBody = Buffer.concat([whole.subarray(0, 12), Buffer.from([0xb0, 0x80, 0x80, 0x80, 0x40]), whole.subarray(14, whole.length - 20)])
    const giant = Buffer.concat([giantBody, createHash('sha1').update(giantBody).digest()])
    const corrupt = Buffer.from(whole)
    const middle = Math.floor(whole.length / 2)
    corrupt[middle] = corrupt[middle]! ^ 0xff
    const cases: Array<[string, Buffer, string]> = [
      ['truncated pack', whole.subarray(0, whole.length - 30), 'MalformedObjectError'],
      ['corrupted pack', corrupt, 'MalformedObjectError'],
      ['pack claiming a 1 GiB blob', giant, 'ObjectTooLargeError']
    ]
    for (const [what, pack, name] of cases) {
      it(`refuses a ${what} of ${count} objects (${name}) and stores nothing`, async () => {
        await serveHostile(author, async channel => {
          await channel.send({ type: 'accept', objects: declared.length, packs: 1 })
          await channel.send({ type: 'pack', objects: declared.map(oidToBytes) })
          await channel.send({ type: 'data', bytes: pack })
          await channel.send({ type: 'done' })
        })
        const into = path.join(scratch, 'builder')
        await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], into)).rejects.toMatchObject({ name })
        expect(await readdir(path.join(into, '.git/objects/pack'))).toEqual([])
        expect((await readdir(path.join(into, '.git/objects'))).filter(entry => entry.startsWith('incoming') || /^[0-9a-f]{2}$/.test(entry))).toEqual([])
      })
    }
  }

  it('refuses a pack whose header counts other objects than its pack message declares', async () => {
    const blobs = Array.from({ length: 70 }, (_, i) => Buffer.from(`blob ${i}\n`))
    const pack = writePack(blobs.map(body => ({ type: 'blob', body })))
    const declared = blobs.slice(0, 69).map(body => objectId('blob', body))
    await serveHostile(author, async channel => {
      await channel.send({ type: 'accept', objects: declared.length, packs: 1 })
      await channel.send({ type: 'pack', objects: declared.map(oidToBytes) })
      await channel.send({ type: 'data', bytes: pack })
      await channel.send({ type: 'done' })
    })
    const into = path.join(scratch, 'builder')
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], into)).rejects.toMatchObject({ name: 'ObjectMismatchError' })
    expect(await readdir(path.join(into, '.git/objects/pack'))).toEqual([])
  })

  it('stops a server that announces 2³²−1 objects, one that sends more than it announced, and one that sends objects outside the closure', async () => {
    // Valid packs of 70 blobs nobody asked for, made once.
    const packs = Array.from({ length: 20 }, (_, i) => {
      const bodies = Array.from({ length: 70 }, (_, j) => Buffer.from(`unrelated ${i}.${j}\n`))
      return { ids: bodies.map(body => oidToBytes(objectId('blob', body))), bytes: writePack(bodies.map(body => ({ type: 'blob', body }))) }
    })
    const unrelated = async (channel: MessageChannel<Want, FetcherMessage>, announced: number): Promise<void> => {
      await channel.send({ type: 'accept', objects: announced, packs: announced })
      // ...sent until the fetcher stops listening.
      for (const pack of packs) {
        await channel.send({ type: 'pack', objects: pack.ids })
        await channel.send({ type: 'data', bytes: pack.bytes })
      }
    }
    const storedPacks = async (into: string): Promise<number> => (await readdir(path.join(into, '.git/objects/pack'))).filter(name => name.endsWith('.pack')).length

    await serveHostile(author, async channel => { await unrelated(channel, 2 ** 32 - 1).catch(() => {}) })
    const huge = path.join(scratch, 'builder-huge')
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], huge)).rejects.toMatchObject({ name: 'ProtocolError', message: expect.stringMatching(/announced 4294967295 objects/) })
    expect(await storedPacks(huge)).toBe(0)

    await serveHostile(author, async channel => { await unrelated(channel, 5).catch(() => {}) })
    const more = path.join(scratch, 'builder-more')
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], more)).rejects.toMatchObject({ name: 'ProtocolError', message: expect.stringMatching(/announced 5 objects and sends more/) })
    expect(await storedPacks(more)).toBe(0)

    // Within what it announced, but nothing of it reachable from the want: refused before it is stored.
    await serveHostile(author, async channel => { await unrelated(channel, 1_000_000).catch(() => {}) })
    const outside = path.join(scratch, 'builder-outside')
    const started = performance.now()
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], outside)).rejects.toMatchObject({ name: 'ObjectMismatchError', message: expect.stringMatching(/outside the closure/) })
    expect(performance.now() - started).toBeLessThan(5000)
    expect(await storedPacks(outside)).toBe(0)
    expect((await readdir(path.join(outside, '.git/objects'))).filter(name => /^[0-9a-f]{2}$/.test(name))).toEqual([])
  })

  it('refuses a pack of the real closure with one blob nobody asked for in it, and stores none of it', async () => {
    // The real closure, cut into packs of 70, with one unrelated blob slipped into the first.
    const ids = git(repo, ['rev-list', '--objects', '--no-walk', commit]).split('\n').map(line => line.slice(0, 40))
    const stray = git(repo, ['hash-object', '-w', '--stdin'], 'a blob no tree refers to\n')
    const declared = [...ids, stray]
    const pack = gitBuffer(repo, ['pack-objects', '--stdout', '-q'], declared.join('\n') + '\n')
    await serveHostile(author, async channel => {
      await channel.send({ type: 'accept', objects: declared.length, packs: 1 })
      await channel.send({ type: 'pack', objects: declared.map(oidToBytes) })
      await channel.send({ type: 'data', bytes: pack })
      await channel.send({ type: 'done' })
    })
    const into = path.join(scratch, 'builder')
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], into)).rejects.toMatchObject({ name: 'ObjectMismatchError', message: expect.stringMatching(new RegExp(`outside the closure.*${stray}`)) })
    expect(await readdir(path.join(into, '.git/objects/pack'))).toEqual([])
  })

  it('rejects trees with unsafe entry names and stores nothing', async () => {
    const evilRepo = path.join(scratch, 'evil')
    await makeRepo(evilRepo, 1)
    const blob = git(evilRepo, ['hash-object', '-w', '--stdin'], 'payload\n')
    for (const name of ['.git', '..', '.GIT']) {
      const treeBytes = Buffer.concat([Buffer.from(`100644 ${name}\0`, 'latin1'), Buffer.from(blob, 'hex')])
      const tree = git(evilRepo, ['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], treeBytes)
      const evilCommit = git(evilRepo, ['commit-tree', tree, '-m', 'evil'])
      const pack = gitBuffer(evilRepo, ['pack-objects', '--stdout', '-q'], [evilCommit, tree, blob].join('\n') + '\n')
      await serveHostile(author, async channel => {
        await channel.send({ type: 'accept', objects: 3, packs: 1 })
        await channel.send({ type: 'pack', objects: [evilCommit, tree, blob].map(oidToBytes) })
        await channel.send({ type: 'data', bytes: pack })
        await channel.send({ type: 'done' })
      })
      const into = path.join(scratch, `builder-${name}`)
      await expect(builder.node.services.exchange.fetch(author.node.peerId, [evilCommit], into)).rejects.toMatchObject({ name: 'UnsafePathError' })
      expect(await readdir(path.join(into, '.git/objects/pack'))).toEqual([])
    }
  })

  it('resumes a cut transfer without re-sending what was stored', async () => {
    const total = git(repo, ['rev-list', '--objects', '--no-walk', commit]).split('\n').length
    const into = path.join(scratch, 'builder')
    let cut = false
    const report = await builder.node.services.exchange.fetch(author.node.peerId, [commit], into, {
      onProgress: () => {
        if (cut) return
        cut = true
        // the connection dies after the first pack was stored
        for (const connection of builder.node.getConnections(author.node.peerId)) connection.abort(new Error('cable pulled'))
      }
    })
    expect(cut).toBe(true)
    expect(report.roundTrips).toBe(2)
    expect(report.objects).toBe(total)
    git(into, ['fsck', '--strict'])
  })

  it('a fetch interrupted by the user resumes on the next run, asking only for what is missing', async () => {
    const total = git(repo, ['rev-list', '--objects', '--no-walk', commit]).split('\n').length
    const into = path.join(scratch, 'builder')
    const controller = new AbortController()
    let first = 0
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], into, {
      signal: controller.signal,
      onProgress: progress => { first = progress.objects; controller.abort(new Error('user stopped it')) }
    })).rejects.toThrow()
    expect(first).toBe(10)
    const second = await builder.node.services.exchange.fetch(author.node.peerId, [commit], into)
    expect(second.objects).toBe(total - first)
    git(into, ['fsck', '--strict'])
  })

  it('refuses connections from peers that are not trusted', async () => {
    const stranger = await startTestNode()
    try {
      stranger.trust.trust(author.peerId, ['author'], [])
      await stranger.node.peerStore.merge(author.node.peerId, { multiaddrs: author.node.getMultiaddrs() })
      // Even a grant does not let an untrusted peer in: the connection itself is refused.
      author.grants.add(stranger.peerId, commit, repo)
      await expect(stranger.node.services.exchange.fetch(author.node.peerId, [commit], path.join(scratch, 'stranger'))).rejects.toMatchObject({ name: 'PeerUnreachableError' })
      // the author keeps serving its trusted peer
      const report = await builder.node.services.exchange.fetch(author.node.peerId, [commit], path.join(scratch, 'builder'))
      expect(report.roundTrips).toBe(1)
    } finally {
      await stranger.stop()
    }
  })

  it('lets a trusted stock libp2p peer dial and ping, and no other', async () => {
    const stock = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { ping: ping(), identify: identify() }
    })
    try {
      await expect(stock.services.ping.ping(author.node.getMultiaddrs()[0]!)).rejects.toThrow()
      author.trust.trust(stock.peerId.toString(), [], [])
      const ms = await stock.services.ping.ping(author.node.getMultiaddrs()[0]!)
      expect(ms).toBeGreaterThanOrEqual(0)
    } finally {
      await stock.stop()
    }
  })
})
