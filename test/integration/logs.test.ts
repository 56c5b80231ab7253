import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { deflateRawSync } from 'node:zlib'
import path from 'node:path'
import { defaultLogger } from '@libp2p/logger'
import { Daemon } from '../../src/daemon/daemon.js'
import { Home } from '../../src/home/home.js'
import { keepBuildersConnected } from '../../src/net/keep-alive.js'
import { sendJobMessage } from '../../src/jobs/wire.js'
import { encodeCbor } from '../../src/wire/codec.js'
import { lengthPrefix } from '../../src/wire/frames.js'
import { MessageChannel } from '../../src/wire/channel.js'
import { JOBS_PROTOCOL } from '../../src/jobs/constants.js'
import { JobReply, type JobReplyMessage, type JobRequestMessage, type LogBatch } from '../../src/jobs/messages.js'
import { MAX_LOG_INFLATED_BYTES, MAX_LOG_TEXT_BYTES } from '../../src/logs/constants.js'
import type { Job } from '../../src/jobs/job.js'
import { Scratch } from '../helpers/git-repo.js'
import { waitUntil } from '../helpers/job-rig.js'

/**
 * Hostile and malformed `log` messages at a real author daemon, from real libp2p peers: a rogue
 * trusted as a builder that runs nothing, and the job's own builder sending what a broken builder
 * might. Each is declined (or answered with where the stream stands) and the author keeps
 * serving: the real job's log arrives whole afterwards.
 */
describe('live logs: what an author refuses', () => {
  const scratch = new Scratch()
  const daemons: Daemon[] = []
  let root: string
  let author: Daemon
  let builder: Daemon
  let rogue: Daemon
  let release: string
  let target: Job

  async function start (name: string, generate?: string): Promise<Daemon> {
    const home = Home.resolve(path.join(root, name))
    await home.init()
    const daemon = await Daemon.start(home, { listen: ['/ip4/127.0.0.1/tcp/0'], builder: generate === undefined ? undefined : { slots: 1, generate } })
    daemons.push(daemon)
    return daemon
  }

  async function trustAsBuilder (peer: Daemon): Promise<void> {
    author.trust.trust(peer.node.peerId.toString(), ['builder'], peer.addrs)
    peer.trust.trust(author.node.peerId.toString(), ['author'], author.addrs)
    await author.node.peerStore.merge(peer.node.peerId, { multiaddrs: peer.node.getMultiaddrs() })
    await peer.node.peerStore.merge(author.node.peerId, { multiaddrs: author.node.getMultiaddrs() })
    await keepBuildersConnected(author.node, author.trust, peer.node.peerId.toString(), defaultLogger().forComponent('test'))
  }

  const logText = (): string => author.author.logs!.read(target.id, { round: target.round, maxBytes: 1 << 30 }).chunks.map(c => c.text).join('')

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'gitmesh-logs-int-'))
    release = path.join(root, 'release')
    author = await start('author')
    builder = await start('builder', `echo started; while [ ! -e '${release}' ]; do sleep 0.05; done; echo finished`)
    rogue = await start('rogue')
    await trustAsBuilder(builder)
    await trustAsBuilder(rogue)
    const repo = scratch.repo()
    repo.write('gitmesh.json', JSON.stringify({ test: 'true', attempts: 1 }) + '\n')
    repo.write('readme.txt', 'hello\n')
    repo.commit('project')
    target = await author.author.offer({ repo: repo.dir, prompt: 'run and wait', name: 'waiting-job' })
    await waitUntil(() => logText() === 'started\n', 30_000, 'the first line at the author')
    target = author.author.jobs.get(target.id)!
  }, 60_000)

  afterAll(async () => {
    for (const daemon of daemons.splice(0).reverse()) await daemon.stop()
    scratch.cleanup()
    await rm(root, { recursive: true, force: true })
  })

  const batch = (fields: Partial<LogBatch> = {}): LogBatch => ({ type: 'log', job: target.id, round: target.round, attempt: 1, step: 'generate', offset: 0, text: 'forged\n', ...fields })

  it('declines a log for a job that does not exist', async () => {
    expect(await sendJobMessage(rogue.node, author.node.peerId, batch({ job: '000000000000' }))).toMatchObject({ type: 'decline', code: 'unknown-job' })
  })

  it('declines a log for another builder\'s job', async () => {
    expect(await sendJobMessage(rogue.node, author.node.peerId, batch({ offset: 8 }))).toMatchObject({ type: 'decline', code: 'not-builder' })
  })

  it('declines a log for a round the job is not at', async () => {
    expect(await sendJobMessage(builder.node, author.node.peerId, batch({ round: target.round + 1 }))).toMatchObject({ type: 'decline', code: 'unknown-job' })
  })

  it('declines text over the byte limit, and text over the character limit as malformed', async () => {
    const wide = 'é'.repeat(MAX_LOG_TEXT_BYTES / 2 + 1)
    expect(await sendJobMessage(builder.node, author.node.peerId, batch({ offset: 8, text: wide }))).toMatchObject({ type: 'decline', code: 'bad-request', message: expect.stringContaining(`more than the ${MAX_LOG_TEXT_BYTES} allowed`) })
    expect(await sendJobMessage(builder.node, author.node.peerId, batch({ offset: 8, text: 'x'.repeat(MAX_LOG_TEXT_BYTES + 1) }))).toMatchObject({ type: 'decline', code: 'bad-request' })
  })

  it('declines a deflated text that inflates past the byte limit (a zip bomb), or that is not deflate, as bad-request', async () => {
    const { text: _text, ...fields } = batch({ offset: 8 }) as LogBatch & { text?: string }
    const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024, 'y'), { level: 9 })
    expect(await sendJobMessage(builder.node, author.node.peerId, { ...fields, deflated: bomb })).toMatchObject({ type: 'decline', code: 'bad-request', message: expect.stringContaining(`past the ${MAX_LOG_INFLATED_BYTES} bytes allowed`) })
    // One byte over the bound of a deflated batch's text is refused too.
    const over = deflateRawSync(Buffer.alloc(MAX_LOG_INFLATED_BYTES + 1, 'y'))
    expect(await sendJobMessage(builder.node, author.node.peerId, { ...fields, deflated: over })).toMatchObject({ type: 'decline', code: 'bad-request' })
    expect(await sendJobMessage(builder.node, author.node.peerId, { ...fields, deflated: Uint8Array.from([0xff, 0xfe]) })).toMatchObject({ type: 'decline', code: 'bad-request' })
    expect(logText()).toBe('started\n')
  })

  it('declines a malformed log (a negative offset, an unknown step) naming the key', async () => {
    for (const [fields, key] of [[{ offset: -5 }, 'offset'], [{ step: 'deploy' }, 'step']] as const) {
      const stream = await rogue.node.dialProtocol(author.node.peerId, JOBS_PROTOCOL)
      const channel = new MessageChannel<JobReplyMessage, JobRequestMessage>(stream, JobReply)
      stream.send(Uint8Array.from([...lengthPrefix(encodeCbor({ ...batch(), ...fields }).byteLength), ...encodeCbor({ ...batch(), ...fields })]))
      const reply = await channel.receive({ signal: AbortSignal.timeout(5000) })
      expect(reply).toMatchObject({ type: 'decline', code: 'bad-request', message: expect.stringContaining(key) })
      stream.abort(new Error('done'))
    }
  })

  it('answers a batch past a gap, or a repeat, with where the stream stands, and keeps none of it', async () => {
    const held = Buffer.byteLength('started\n')
    expect(await sendJobMessage(builder.node, author.node.peerId, batch({ offset: held + 100 }))).toEqual({ type: 'ok', offset: held })
    expect(await sendJobMessage(builder.node, author.node.peerId, batch({ offset: 0, text: 'started\n' }))).toEqual({ type: 'ok', offset: held })
    // A deflated batch of 1 MiB of text (four times what a plain one may carry) is taken in, then placed like any.
    const { text: _text, ...fields } = batch({ offset: held + 100 }) as LogBatch & { text?: string }
    const big = deflateRawSync(Buffer.alloc(MAX_LOG_INFLATED_BYTES, 'z'))
    expect(await sendJobMessage(builder.node, author.node.peerId, { ...fields, deflated: big })).toEqual({ type: 'ok', offset: held })
    expect(logText()).toBe('started\n')
  })

  it('keeps serving: the real job\'s log arrives whole, every line once', async () => {
    await writeFile(release, '')
    await waitUntil(() => author.author.jobs.get(target.id)!.state === 'returned', 30_000, 'the job to return')
    expect(logText()).toBe('started\nfinished\n')
  })
})
