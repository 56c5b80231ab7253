import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Author } from '../../../src/author/author.js'
import { BUILDER_QUEUE_SLACK } from '../../../src/jobs/constants.js'
import type { Job } from '../../../src/jobs/job.js'
import { JobStore } from '../../../src/jobs/job-store.js'
import type { JobReplyMessage, JobRequestMessage, ResultBody } from '../../../src/jobs/messages.js'
import { signResult } from '../../../src/jobs/signing.js'
import { oidToBytes } from '../../../src/git/oid.js'
import { openDatabase, type Db } from '../../../src/store/database.js'
import { GrantStore } from '../../../src/store/grant-store.js'
import { TrustStore } from '../../../src/store/trust-store.js'
import { noExchange, RecordingLink } from '../../helpers/job-link.js'
import { waitUntil } from '../../helpers/job-rig.js'

const S = 'f84745714ca429ce143f68047fc084fc5cb6f135'
const B = '8dbd366d17fc6a39ae29edb61afcefcea943301f'
const REPO = '/home/dev/shop'

/** A builder as the author's parts see it over the link: a key, and what it answers. */
interface FakeBuilder {
  key: PrivateKey
  id: string
  slots: number
  tags: string[]
  /** Jobs it took (offers it answered `ok`). */
  took: string[]
  /** Set to make it unreachable, or to decline offers. */
  down?: boolean
  full?: boolean
}

// The author's parts (scheduler, leases, result intake, review) on a real database, with the
// network replaced by a recording link: what they decide, and what they send, without a stream.
describe('the author, below the network', () => {
  let dir: string
  let db: Db
  let jobs: JobStore
  let trust: TrustStore
  let grants: GrantStore
  let link: RecordingLink
  let author: Author
  let builders: Map<string, FakeBuilder>

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-author-'))
    db = openDatabase(path.join(dir, 'gitmesh.db'))
    jobs = new JobStore(db)
    trust = new TrustStore(db)
    grants = new GrantStore(db)
    builders = new Map()
    link = new RecordingLink(async (peer, message) => answer(peer, message))
    author = new Author({ network: link, exchange: noExchange, trust, grants, jobs, log: defaultLogger().forComponent('gitmesh:test') })
  })

  afterEach(async () => {
    author.stop()
    await author.scheduled()
    db.close()
    await rm(dir, { recursive: true, force: true })
  })

  function answer (peer: string, message: JobRequestMessage): JobReplyMessage {
    const builder = builders.get(peer)
    if (builder === undefined || builder.down === true) throw new Error(`${peer} is unreachable`)
    const load = (): JobReplyMessage => ({ type: 'ok', slots: builder.slots, running: 0, queued: builder.took.length, tags: builder.tags })
    if (message.type === 'load') return load()
    if (message.type === 'offer') {
      if (builder.full === true) return { type: 'decline', code: 'full', message: 'full' }
      builder.took.push(message.job.name)
      return load()
    }
    return { type: 'ok' }
  }

  async function addBuilder (slots: number, tags: string[] = []): Promise<FakeBuilder> {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key).toString()
    const builder: FakeBuilder = { key, id, slots, tags, took: [] }
    builders.set(id, builder)
    trust.trust(id, ['builder'], [])
    return builder
  }

  function queued (name: string, fields: { priority?: number, builders?: string[] } = {}): Job {
    return jobs.create({ name, repo: REPO, prompt: name, snapshot: S, test: 'true', attemptsBudget: 1, generateTimeoutMs: 1000, testTimeoutMs: 1000, ...fields })
  }

  async function placedOn (builder: FakeBuilder, name: string): Promise<Job> {
    const job = queued(name)
    author.schedule()
    await waitUntil(() => jobs.get(job.id)!.state === 'offered', 5000, `${name} offered`)
    expect(jobs.get(job.id)!.builder).toBe(builder.id)
    return jobs.get(job.id)!
  }

  async function signed (builder: FakeBuilder, body: Partial<ResultBody> & Pick<ResultBody, 'job' | 'round'>): Promise<Parameters<Author['handleResult']>[0]> {
    return await signResult(builder.key, { type: 'result', builder: builder.id, passed: true, summary: 'done', committedAt: 1, attempts: [{ number: 1, passed: true, generateMs: 5, testMs: 5, log: '' }], ...body })
  }

  describe('placement', () => {
    it('places 12 jobs on two builders with one load question each and one offer per job, up to slots plus slack', async () => {
      const [one, two] = [await addBuilder(3), await addBuilder(3)]
      const made = Array.from({ length: 12 }, (_, i) => queued(`job-${i}`))
      author.schedule()
      const capacity = 2 * (3 + BUILDER_QUEUE_SLACK)
      await waitUntil(() => link.of('offer').length === capacity, 5000, 'offers sent')
      expect(link.of('load').length).toBe(2)
      expect(one.took.length).toBe(capacity / 2)
      expect(two.took.length).toBe(capacity / 2)
      const offered = made.map(job => jobs.get(job.id)!).filter(job => job.state === 'offered')
      expect(offered.length).toBe(capacity)
      // The grant came with the offer: the builder can fetch S as soon as it has it.
      for (const job of offered) expect(grants.has(job.builder!, S, REPO)).toBe(true)
      // The two left over wait, with no problem to report: the builders are merely busy.
      const waiting = made.map(job => jobs.get(job.id)!).filter(job => job.state === 'queued')
      expect(waiting.map(job => job.name)).toEqual(['job-10', 'job-11'])
      for (const job of waiting) expect(author.placementProblem(job.id)).toBeUndefined()
    })

    it('offers the highest-priority job first when there is room for one', async () => {
      // A builder busy with another author's work (it holds none of ours) takes one job of ours.
      const builder = await addBuilder(1)
      builder.took.push('theirs-1', 'theirs-2', 'theirs-3')
      queued('older-low', { priority: 0 })
      queued('newer-high', { priority: 5 })
      author.schedule()
      await waitUntil(() => link.of('offer').length === 1, 5000, 'one offer')
      expect(link.of('offer').map(sent => sent.message.job.name)).toEqual(['newer-high'])
    })

    it('puts a job declined as full back in the queue, revokes the grant its offer made, and offers no more until the builder is asked again', async () => {
      const builder = await addBuilder(2)
      builder.full = true
      const job = queued('declined')
      await author.start()
      await author.scheduled()
      // The decline asks for another pass at once; that pass must not offer to the full builder again.
      expect(link.of('offer').length).toBe(1)
      expect(jobs.get(job.id)).toMatchObject({ state: 'queued', builder: undefined })
      expect(grants.has(builder.id, S, REPO)).toBe(false)
      // Once it has room again and says so (it connects, or its load goes stale), the job goes there.
      builder.full = false
      link.connect(builder.id)
      await waitUntil(() => jobs.get(job.id)!.state === 'offered', 5000, 'the job offered again')
      expect(link.of('offer').length).toBe(2)
    })

    it('says why a job waits when no trusted builder matches its tags', async () => {
      await addBuilder(2, ['linux'])
      const tagged = queued('needs-gpu', { builders: ['gpu'] })
      author.schedule()
      await author.scheduled()
      expect(author.placementProblem(tagged.id)!.reason).toBe('no trusted builder matches builders: gpu (their tags: linux)')
      expect(link.of('offer')).toEqual([])
    })

    it('says why a job waits when the one builder that could take it is unreachable', async () => {
      const builder = await addBuilder(2)
      builder.down = true
      const job = queued('any-builder')
      author.schedule()
      await author.scheduled()
      expect(link.of('load').length).toBe(1)
      expect(author.placementProblem(job.id)!.reason).toContain('the one builder that could take it is unreachable')
      expect(link.of('offer')).toEqual([])
    })

    it('does not offer a job that was cancelled while the builders were asked for their load', async () => {
      await addBuilder(2)
      const job = queued('cancelled-meanwhile')
      link.answer = async (peer, message) => {
        if (message.type === 'load') jobs.transition(job.id, 'cancelled', { reason: 'cancelled by the author' })
        return answer(peer, message)
      }
      author.schedule()
      await author.scheduled()
      expect(link.of('load').length).toBe(1)
      expect(link.of('offer')).toEqual([])
      expect(jobs.get(job.id)!.state).toBe('cancelled')
    })
  })

  describe('builders that stop, leave or hand back', () => {
    it('offers a handed-back job elsewhere at once', async () => {
      const [first, second] = [await addBuilder(2), await addBuilder(1)]
      const job = await placedOn(first, 'handed-back')
      first.down = true
      expect(author.handleHandback({ type: 'handback', job: job.id, round: job.round, reason: 'the builder is shutting down' }, first.id)).toEqual({ type: 'ok' })
      await waitUntil(() => jobs.get(job.id)!.builder === second.id, 5000, 'the job on the second builder')
      expect(second.took).toEqual(['handed-back'])
    })

    it('ignores a handback from a builder that does not hold the job', async () => {
      const [first, second] = [await addBuilder(2), await addBuilder(1)]
      const job = await placedOn(first, 'kept')
      author.handleHandback({ type: 'handback', job: job.id, round: job.round, reason: 'not mine' }, second.id)
      expect(jobs.get(job.id)).toMatchObject({ state: 'offered', builder: first.id })
    })

    it('loses the jobs of a builder that disconnects and offers them elsewhere', async () => {
      const [first, second] = [await addBuilder(2), await addBuilder(1)]
      await author.start()
      const job = await placedOn(first, 'on-a-leaving-builder')
      first.down = true
      link.disconnect(first.id)
      await waitUntil(() => jobs.get(job.id)!.builder === second.id, 5000, 'the job on the second builder')
      expect(jobs.get(job.id)!.reason).toContain('disconnected')
    })
  })

  describe('status and results', () => {
    it('never steps a job\'s progress backwards when updates arrive out of order', async () => {
      const builder = await addBuilder(1)
      const job = await placedOn(builder, 'out-of-order')
      author.handleStatus({ type: 'status', job: job.id, round: job.round, state: 'generating', attempt: 1, line: 'writing' }, builder.id)
      author.handleStatus({ type: 'status', job: job.id, round: job.round, state: 'fetching', attempt: 1, line: 'late' }, builder.id)
      expect(jobs.get(job.id)).toMatchObject({ state: 'generating', progress: 'writing' })
    })

    it('declines a result signed by another builder than the one that sent it, and one from a peer not trusted as a builder', async () => {
      const [holder, other] = [await addBuilder(1), await addBuilder(1)]
      const job = await placedOn(holder, 'forged')
      const forged = await signed(other, { job: job.id, round: job.round, commit: oidToBytes(B) })
      expect(await author.handleResult(forged, holder.id)).toMatchObject({ type: 'decline', code: 'bad-request' })
      const stranger = await addBuilder(1)
      trust.untrust(stranger.id)
      trust.trust(stranger.id, ['author'], [])
      const fromAuthor = await signed(stranger, { job: job.id, round: job.round, commit: oidToBytes(B) })
      expect(await author.handleResult(fromAuthor, stranger.id)).toMatchObject({ type: 'decline', code: 'not-builder' })
      expect(jobs.candidates(job.id, job.round)).toEqual([])
      expect(jobs.get(job.id)!.state).toBe('offered')
    })

    it('acknowledges a stale or unknown result, so its builder stops, and keeps nothing of it', async () => {
      const builder = await addBuilder(1)
      const job = await placedOn(builder, 'stale')
      expect(await author.handleResult(await signed(builder, { job: job.id, round: job.round + 1, commit: oidToBytes(B) }), builder.id)).toEqual({ type: 'ok' })
      expect(await author.handleResult(await signed(builder, { job: '0123456789ab', round: 1, commit: oidToBytes(B) }), builder.id)).toEqual({ type: 'ok' })
      expect(jobs.candidates(job.id, job.round)).toEqual([])
      expect(jobs.get(job.id)!.state).toBe('offered')
    })

    it('asks for a result again when its objects cannot be fetched, and stores nothing meanwhile', async () => {
      const builder = await addBuilder(1)
      const job = await placedOn(builder, 'unfetchable')
      const reply = await author.handleResult(await signed(builder, { job: job.id, round: job.round, commit: oidToBytes(B) }), builder.id)
      expect(reply).toMatchObject({ type: 'decline', code: 'retry' })
      expect(jobs.candidates(job.id, job.round)).toEqual([])
      expect(jobs.get(job.id)!.state).toBe('offered')
    })

    it('fails the job on a result without a commit from its only builder', async () => {
      const builder = await addBuilder(1)
      const job = await placedOn(builder, 'no-commit')
      const reply = await author.handleResult(await signed(builder, { job: job.id, round: job.round, passed: false, error: 'the generator crashed' }), builder.id)
      expect(reply).toEqual({ type: 'ok' })
      expect(jobs.get(job.id)).toMatchObject({ state: 'failed', reason: 'the generator crashed' })
    })

    it('tells every builder holding a job to stop when it is cancelled', async () => {
      const builder = await addBuilder(1)
      const job = await placedOn(builder, 'to-cancel')
      await author.cancel(job)
      expect(link.of('cancel')).toEqual([{ peer: builder.id, message: { type: 'cancel', job: job.id, round: job.round } }])
      expect(jobs.get(job.id)!.state).toBe('cancelled')
    })
  })
})
