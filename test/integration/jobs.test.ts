import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { Daemon } from '../../src/daemon/daemon.js'
import { Home } from '../../src/home/home.js'
import { keepBuildersConnected } from '../../src/net/keep-alive.js'
import { oidToBytes } from '../../src/git/oid.js'
import { signResult } from '../../src/jobs/signing.js'
import { sendJobMessage } from '../../src/jobs/wire.js'
import type { Job } from '../../src/jobs/job.js'
import type { ResultBody } from '../../src/jobs/messages.js'
import { Scratch, git, type TestRepo } from '../helpers/git-repo.js'
import { waitUntil } from '../helpers/job-rig.js'

/**
 * One author and two builders over the jobs protocol, as three daemons in this process on
 * loopback: real libp2p nodes, real databases, real repositories; only the generator is a small
 * shell command. Below the CLI, so each case costs no process starts of gitmesh itself.
 */
describe('jobs protocol: one author, two builders, in one process', () => {
  const scratch = new Scratch()
  const daemons: Daemon[] = []
  let root: string
  let author: Daemon
  let builders: Daemon[]
  let repo: TestRepo

  async function start (name: string, builder: boolean): Promise<Daemon> {
    const home = Home.resolve(path.join(root, name))
    await home.init()
    const daemon = await Daemon.start(home, {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      // The generator writes one file named after the job, so every result differs.
      builder: builder ? { slots: 1, generate: 'echo "built by $GITMESH_JOB_NAME" > "out-$GITMESH_JOB_NAME.txt"' } : undefined
    })
    daemons.push(daemon)
    return daemon
  }

  async function trustEachOther (a: Daemon, b: Daemon): Promise<void> {
    a.trust.trust(b.node.peerId.toString(), ['builder'], b.addrs)
    b.trust.trust(a.node.peerId.toString(), ['author'], a.addrs)
    await a.node.peerStore.merge(b.node.peerId, { multiaddrs: b.node.getMultiaddrs() })
    await b.node.peerStore.merge(a.node.peerId, { multiaddrs: a.node.getMultiaddrs() })
    await keepBuildersConnected(a.node, a.trust, b.node.peerId.toString(), defaultLogger().forComponent('test'))
  }

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'gitmesh-jobs-int-'))
    author = await start('author', false)
    builders = [await start('builder-1', true), await start('builder-2', true)]
    for (const builder of builders) await trustEachOther(author, builder)
    repo = scratch.repo()
    repo.write('gitmesh.json', JSON.stringify({ test: 'true', attempts: 1 }) + '\n')
    repo.write('readme.txt', 'hello\n')
    repo.commit('project')
  })

  afterAll(async () => {
    for (const daemon of daemons.splice(0).reverse()) await daemon.stop()
    scratch.cleanup()
    await rm(root, { recursive: true, force: true })
  })

  const job = (name: string): Job => author.author.jobs.find(name)

  it('spreads jobs over both builders by free slots and brings every result back', async () => {
    const names = ['first-job', 'second-job', 'third-job', 'fourth-job']
    for (const name of names) await author.author.offer({ repo: repo.dir, prompt: `make ${name}`, name })
    await waitUntil(() => names.every(name => job(name).state === 'returned'), 60_000)
    const ranOn = new Set(names.map(name => job(name).result!.builder))
    expect(ranOn).toEqual(new Set(builders.map(b => b.node.peerId.toString())))
    for (const name of names) {
      const result = job(name).result!
      // B holds exactly the generator's file on top of S, and the author has its objects.
      expect(git(repo.dir, ['diff', '--name-only', job(name).snapshot, result.commit])).toBe(`out-${name}.txt`)
      expect(git(repo.dir, ['cat-file', '-p', `${result.commit}:out-${name}.txt`])).toBe(`built by ${name}`)
    }
  }, 90_000)

  it('takes a job back from a builder that stops gracefully, at once, and says why it now waits', async () => {
    // A builder tagged `slow` whose generator waits for a file that never comes.
    const home = Home.resolve(path.join(root, 'slow'))
    await home.init()
    const slow = await Daemon.start(home, { listen: ['/ip4/127.0.0.1/tcp/0'], builder: { slots: 1, tags: ['slow'], generate: 'while [ ! -e never ]; do sleep 0.05; done' } })
    daemons.push(slow)
    await trustEachOther(author, slow)
    await author.author.offer({ repo: repo.dir, prompt: 'on the slow one', name: 'handed-back', builders: ['slow'] })
    await waitUntil(() => job('handed-back').state === 'generating', 30_000)
    // A graceful stop hands the job back before the builder goes: no lease has to run out.
    daemons.splice(daemons.indexOf(slow), 1)
    await slow.stop()
    const back = job('handed-back')
    expect(back.state).toBe('queued')
    expect(back.reason).toContain('handed back')
    expect(back.builder).toBeUndefined()
    // Only the stopped builder may take it: the author says so instead of waiting silently.
    await waitUntil(() => author.author.placementProblem(back.id)?.reason.includes('unreachable') === true, 30_000)
    await author.author.cancel(back)
  }, 60_000)

  it('brings back a result whose files are larger than the in-process pack limit', async () => {
    // 3 MB of incompressible bytes: B's objects go the pack-objects / index-pack way.
    const home = Home.resolve(path.join(root, 'big'))
    await home.init()
    const big = await Daemon.start(home, { listen: ['/ip4/127.0.0.1/tcp/0'], builder: { slots: 1, tags: ['big'], generate: 'head -c 3000000 /dev/urandom > big.bin' } })
    daemons.push(big)
    await trustEachOther(author, big)
    await author.author.offer({ repo: repo.dir, prompt: 'a big file', name: 'big-result', builders: ['big'] })
    await waitUntil(() => ['returned', 'failed'].includes(job('big-result').state), 60_000)
    const done = job('big-result')
    expect(done.state).toBe('returned')
    expect(git(repo.dir, ['cat-file', '-s', `${done.result!.commit}:big.bin`])).toBe('3000000')
  }, 90_000)

  describe('results the author must not take', () => {
    // A peer the author trusts as a builder, that runs no jobs: it only sends crafted results.
    let rogue: Daemon
    let target: Job

    beforeAll(async () => {
      rogue = await start('rogue', false)
      await trustEachOther(author, rogue)
      target = job('first-job')
    })

    /** Sends `body` from the rogue, signed with the rogue's own key. */
    async function send (body: ResultBody): Promise<unknown> {
      const signed = await signResult(await Home.resolve(path.join(root, 'rogue')).loadIdentity(), body)
      return await sendJobMessage(rogue.node, author.node.peerId, signed)
    }

    const resultFor = (j: Job, builder: string, commit: string, round = j.round): ResultBody => ({
      type: 'result', job: j.id, round, builder, commit: oidToBytes(commit), passed: true, summary: 'forged', committedAt: Date.now(), attempts: []
    })

    it('refuses a result signed by one peer in the name of another', async () => {
      const victim = builders[0]!.node.peerId.toString()
      const reply = await send(resultFor(target, victim, target.result!.commit))
      expect(reply).toMatchObject({ type: 'decline', code: 'bad-request' })
      expect(job('first-job').result).toEqual(target.result)
    })

    it('refuses a result whose signature is not the sender\'s key', async () => {
      const stranger = await generateKeyPair('Ed25519')
      const body = resultFor(target, rogue.node.peerId.toString(), target.result!.commit)
      const signed = await signResult(stranger, body)
      expect(await sendJobMessage(rogue.node, author.node.peerId, signed)).toMatchObject({ type: 'decline', code: 'bad-request' })
    })

    it('acknowledges and drops a result for a stale round or an unknown job, changing nothing', async () => {
      const before = job('first-job')
      const stale = await send(resultFor(before, rogue.node.peerId.toString(), before.snapshot, before.round + 5))
      expect(stale).toMatchObject({ type: 'ok' })
      const unknown = await send({ ...resultFor(before, rogue.node.peerId.toString(), before.snapshot), job: 'abcdefabcdef' })
      expect(unknown).toMatchObject({ type: 'ok' })
      const after = job('first-job')
      expect(after.state).toBe(before.state)
      expect(after.result).toEqual(before.result)
      expect(author.author.jobs.candidates(after.id, after.round)).toHaveLength(1)
    })

    it('takes a replayed result of the job\'s own builder once: the job does not change again', async () => {
      const before = job('second-job')
      const candidates = author.author.jobs.candidates(before.id, before.round)
      const receipt = Buffer.from(before.result!.receipt, 'base64')
      // The receipt is the builder's signed message as received: sending it again from the
      // builder itself is a replay, which the author must treat as nothing new.
      const { decodeCbor } = await import('../../src/wire/codec.js')
      const original = decodeCbor(receipt) as Parameters<typeof sendJobMessage>[2]
      const from = daemons.find(d => d.node.peerId.toString() === before.result!.builder)!
      expect(await sendJobMessage(from.node, author.node.peerId, original)).toMatchObject({ type: 'ok' })
      const after = job('second-job')
      expect(after.result).toEqual(before.result)
      expect(after.updatedAt).toBe(before.updatedAt)
      expect(author.author.jobs.candidates(after.id, after.round)).toEqual(candidates)
    })

    it('keeps serving real work after the hostile messages', async () => {
      await author.author.offer({ repo: repo.dir, prompt: 'after the attacks', name: 'after-attacks' })
      await waitUntil(() => job('after-attacks').state === 'returned', 60_000)
      expect(job('after-attacks').result?.passed).toBe(true)
      expect(peerIdFromString(job('after-attacks').result!.builder).toString()).not.toBe('')
    }, 60_000)
  })
})
