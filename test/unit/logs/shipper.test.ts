import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '@libp2p/logger'
import { openDatabase, type Db } from '../../../src/store/database.js'
import { LogSpool } from '../../../src/logs/spool.js'
import { LogShipper } from '../../../src/logs/shipper.js'
import { LogStore } from '../../../src/logs/log-store.js'
import { LogMessage, type JobReplyMessage, type JobRequestMessage } from '../../../src/jobs/messages.js'
import { plainLogBatch } from '../../../src/logs/deflate.js'
import { MAX_LOG_INFLATED_BYTES, MAX_LOG_TEXT_BYTES } from '../../../src/logs/constants.js'
import { waitUntil } from '../../helpers/job-rig.js'

const AUTHOR = '12D3KooWDMmtGs3HhCP5MkgWTya1JFyn6nPeZcWa9JTi6Xe4H9mm'
const BUILDER = '12D3KooWHqdeSGb77juDqkWf9US9vLSUSfFjKqZ1Ek3494iqxkM6'
const KEY = { author: AUTHOR, job: 'a1b2c3d4e5f6', round: 1 }
const log = defaultLogger().forComponent('test:shipper')

/**
 * The builder's spool and shipper against the author's own bookkeeping (a LogStore in another
 * database), joined by a send that can be made to fail (the author away) or to forget (restarted
 * on an older copy of its database).
 */
describe('LogShipper and LogSpool', () => {
  let dir: string
  let builderDb: Db
  let authorDb: Db
  let shipper: LogShipper | undefined
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-shipper-'))
    builderDb = openDatabase(path.join(dir, 'builder.sqlite'))
    authorDb = openDatabase(path.join(dir, 'author.sqlite'))
  })
  afterEach(async () => {
    shipper?.stop()
    builderDb.close()
    authorDb.close()
    await rm(dir, { recursive: true, force: true })
  })

  function rig (retryMs = 30): { spool: LogSpool, store: LogStore, sent: JobRequestMessage[], author: { away: boolean, declines: boolean, older: boolean } } {
    const spool = new LogSpool(builderDb)
    const store = new LogStore(authorDb)
    const sent: JobRequestMessage[] = []
    // `older`: an author from before deflated logs, whose schema refuses the unknown key.
    const author = { away: false, declines: false, older: false }
    shipper = new LogShipper({
      spool,
      log,
      retryMs,
      send: async (_peer, message): Promise<JobReplyMessage> => {
        sent.push(message)
        if (author.away) throw new Error('the author is away')
        if (author.declines) return { type: 'decline', code: 'bad-request', message: 'unknown message type' }
        if (message.type !== 'log') throw new Error('not a log')
        if (author.older && message.deflated !== undefined) return { type: 'decline', code: 'bad-request', message: 'deflated: unrecognized key' }
        expect(LogMessage.safeParse(message).success).toBe(true)
        return { type: 'ok', offset: store.take(BUILDER, plainLogBatch(message)).held }
      }
    })
    return { spool, store, sent, author }
  }

  const authorText = (store: LogStore): string => store.read(KEY.job, { round: 1, maxBytes: 1 << 30 }).chunks.map(c => c.text).join('')

  it('delivers every byte once, in order, after the author was away, and forgets what was delivered', async () => {
    const { spool, store, author } = rig()
    const write = shipper!.writer(KEY)
    write('generate', 1, 'line 1\n')
    await waitUntil(() => authorText(store) === 'line 1\n', 5000, 'line 1 at the author')
    // Confirmed at once: nothing was written to the database.
    expect(builderDb.prepare('SELECT COUNT(*) AS n FROM spool_chunks').get()).toMatchObject({ n: 0 })
    author.away = true
    for (let i = 2; i <= 40; i++) write('generate', 1, `line ${i}\n`)
    write('test', 1, 'tests ran\n')
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(authorText(store)).toBe('line 1\n')
    // The send failed: what waits is in the database, for an author that may be away for long.
    expect((builderDb.prepare('SELECT COUNT(*) AS n FROM spool_chunks').get() as { n: number }).n).toBeGreaterThan(0)
    author.away = false
    await shipper!.end(KEY)
    const expected = [...Array.from({ length: 40 }, (_, i) => `line ${i + 1}\n`), 'tests ran\n'].join('')
    expect(authorText(store)).toBe(expected)
    expect(spool.undelivered()).toEqual([])
    expect(builderDb.prepare('SELECT COUNT(*) AS n FROM spool_chunks').get()).toMatchObject({ n: 0 })
  })

  it('resends from where an author that lost its copy says it stands', async () => {
    const { store } = rig()
    const write = shipper!.writer(KEY)
    write('generate', 1, 'one\n')
    await waitUntil(() => authorText(store) === 'one\n', 5000, 'one at the author')
    // The author restarted on a copy without any of it: it answers the next batch with offset 0.
    authorDb.exec('DELETE FROM log_chunks; DELETE FROM log_streams; DELETE FROM log_attempts')
    write('generate', 1, 'two\n')
    await shipper!.end(KEY)
    // What the builder still had (not "one": delivered and forgotten) arrives, with the loss declared.
    expect(authorText(store)).toBe('two\n')
    expect(store.dropped(KEY.job, 1)).toEqual([{ attempt: 1, bytes: 4 }])
  })

  it('stops sending a job\'s log to an author that declines it (an older author)', async () => {
    const { spool, sent, author } = rig()
    author.declines = true
    const write = shipper!.writer(KEY)
    write('generate', 1, 'one\n')
    await shipper!.end(KEY)
    write('generate', 1, 'two\n')
    await new Promise(resolve => setTimeout(resolve, 100))
    expect(sent).toHaveLength(1)
    expect(spool.undelivered()).toEqual([])
  })

  it('sends a large batch deflated, its offsets counting the plain text\'s bytes, and a line plain', async () => {
    const { store, sent } = rig()
    const write = shipper!.writer(KEY)
    write('generate', 1, 'ready\n')
    await waitUntil(() => authorText(store) === 'ready\n', 5000, 'ready at the author')
    const flood = Array.from({ length: 400 }, (_, i) => `✓ test/unit/case-${i}.test.ts > passes é ${i * 7} ms\n`).join('')
    write('generate', 1, flood)
    write('test', 1, 'done\n')
    await shipper!.end(KEY)
    expect(authorText(store)).toBe(`ready\n${flood}done\n`)
    const logs = sent.filter(message => message.type === 'log')
    expect(logs[0]).toMatchObject({ text: 'ready\n', offset: 0 })
    expect(logs[0]).not.toHaveProperty('deflated')
    const big = logs.find(message => message.deflated !== undefined)!
    expect(big).not.toHaveProperty('text')
    expect(big.offset).toBe(6)
    expect(big.deflated!.byteLength).toBeLessThan(Buffer.byteLength(flood) / 3)
    expect(logs.at(-1)).toMatchObject({ text: 'done\n', offset: 6 + Buffer.byteLength(flood) })
    expect(store.held(KEY.job, 1, BUILDER)).toBe(Buffer.byteLength(`ready\n${flood}done\n`))
  })

  it('sends a flood of bytes in deflated messages of more text than a plain one may carry, and plain within the bound to an older author', async () => {
    const { store, sent, author } = rig()
    const line = (i: number): string => `✓ test/unit/case-${i}.test.ts > passes é ${i * 7} ms\n`
    const flood = Array.from({ length: 20_000 }, (_, i) => line(i)).join('')
    const bytes = Buffer.from(flood)
    expect(bytes.length).toBeGreaterThan(MAX_LOG_TEXT_BYTES * 3)
    const write = shipper!.writer(KEY)
    // The pipe's bytes, cut between characters, in 64 KiB writes.
    for (let at = 0; at < bytes.length;) {
      let end = Math.min(at + 65536, bytes.length)
      while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--
      write('test', 1, bytes.subarray(at, end))
      at = end
    }
    await shipper!.end(KEY)
    expect(authorText(store)).toBe(flood)
    const logs = sent.filter(message => message.type === 'log')
    const inflated = logs.map(message => Buffer.byteLength(plainLogBatch(message).text))
    expect(Math.max(...inflated)).toBeGreaterThan(MAX_LOG_TEXT_BYTES)
    expect(Math.max(...inflated)).toBeLessThanOrEqual(MAX_LOG_INFLATED_BYTES)
    expect(logs.length).toBeLessThanOrEqual(Math.ceil(bytes.length / MAX_LOG_TEXT_BYTES) - 1)
    // An author from before: the same output as plain text, each message within MAX_LOG_TEXT_BYTES.
    author.older = true
    const again = { ...KEY, round: 2 }
    const writeAgain = shipper!.writer(again)
    writeAgain('test', 1, bytes)
    await shipper!.end(again)
    const plain = sent.flatMap(message => message.type === 'log' && message.round === 2 && message.text !== undefined ? [message] : [])
    expect(plain.map(message => message.text).join('')).toBe(flood)
    for (const message of plain) expect(Buffer.byteLength(message.text!)).toBeLessThanOrEqual(MAX_LOG_TEXT_BYTES)
  })

  it('sends plain text to an older author that refuses deflated batches, nothing lost or repeated', async () => {
    const { store, sent, author } = rig()
    author.older = true
    const write = shipper!.writer(KEY)
    const first = 'a'.repeat(2000) + '\n'
    const second = 'b'.repeat(3000) + '\n'
    write('generate', 1, first)
    await waitUntil(() => authorText(store) === first, 5000, 'the first batch at the author')
    write('generate', 1, second)
    await shipper!.end(KEY)
    expect(authorText(store)).toBe(first + second)
    const logs = sent.filter(message => message.type === 'log')
    // One refused deflated batch, then plain text only: the same batch again, and the next.
    expect(logs.map(message => message.deflated === undefined ? 'text' : 'deflated')).toEqual(['deflated', 'text', 'text'])
    expect(logs.map(message => message.offset)).toEqual([0, 0, 2001])
    // Connected again (maybe upgraded): offered deflated batches again.
    author.older = false
    shipper!.resume(AUTHOR)
    const again = { ...KEY, round: 2 }
    shipper!.writer(again)('generate', 1, first)
    await shipper!.end(again)
    expect(sent.at(-1)).toHaveProperty('deflated')
  })

  it('keeps at most its bound per round, telling the author of the gap', async () => {
    const spool = new LogSpool(builderDb, 10)
    for (let i = 0; i < 5; i++) spool.append(KEY, 1, 'generate', `abcd${i}\n`)
    // The bound is the database's: memory holds at most LOG_MEMORY_BYTES, then writes out.
    spool.spill(KEY)
    expect(spool.next(KEY, 0)).toMatchObject({ offset: 18, text: 'abcd3\nabcd4\n', gap: true })
    expect(spool.next(KEY, 20)).toMatchObject({ offset: 20, text: 'cd3\nabcd4\n', gap: false })
    // A message joins stored batches up to its bound, and only batches of one step of one attempt.
    expect(spool.next(KEY, 18, 10)).toMatchObject({ offset: 18, text: 'abcd3\n' })
    const roomy = new LogSpool(builderDb, 1000)
    // Joined the same way from memory.
    const other = { ...KEY, job: 'b1b2c3d4e5f6' }
    roomy.append(other, 1, 'generate', 'one\n')
    roomy.append(other, 1, 'test', 'two\n')
    expect(roomy.next(other, 0)).toMatchObject({ offset: 0, text: 'one\n' })
  })
  it('writes out what the author has not confirmed in time, and sends it from memory meanwhile', async () => {
    const spool = new LogSpool(builderDb)
    spool.append(KEY, 1, 'generate', 'one\n')
    spool.append(KEY, 1, 'generate', 'two\n')
    expect(spool.stale(60_000)).toEqual([])
    expect(spool.next(KEY, 0)).toMatchObject({ offset: 0, text: 'one\ntwo\n', gap: false })
    spool.spill(KEY, { olderThanMs: 0 })
    expect(builderDb.prepare('SELECT COUNT(*) AS n FROM spool_chunks').get()).toMatchObject({ n: 2 })
    spool.append(KEY, 1, 'generate', 'three\n')
    // Stored and in memory, read in order; an acknowledgement clears both.
    expect(spool.next(KEY, 4)).toMatchObject({ offset: 4, text: 'two\n' })
    expect(spool.next(KEY, 8)).toMatchObject({ offset: 8, text: 'three\n' })
    spool.acked(KEY, 8)
    expect(builderDb.prepare('SELECT COUNT(*) AS n FROM spool_chunks').get()).toMatchObject({ n: 0 })
    expect(spool.next(KEY, 8)).toMatchObject({ offset: 8, text: 'three\n' })
    spool.acked(KEY, 14)
    expect(spool.delivered(KEY)).toBe(true)
  })

  it('continues a stream after a clean stop with no gap, and past its reservation with a gap after a crash', async () => {
    const { store, author } = rig()
    const write = shipper!.writer(KEY)
    write('generate', 1, 'before\n')
    await waitUntil(() => authorText(store) === 'before\n', 5000, 'before at the author')
    author.away = true
    write('generate', 1, 'unsent\n')
    await new Promise(resolve => setTimeout(resolve, 100))
    shipper!.stop()
    // The builder restarts: its output continues the stream where it ended, nothing lost.
    author.away = false
    const restarted = rig()
    shipper!.resume()
    shipper!.writer(KEY)('generate', 1, 'after\n')
    await shipper!.end(KEY)
    expect(authorText(restarted.store)).toBe('before\nunsent\nafter\n')
    expect(restarted.store.dropped(KEY.job, 1)).toEqual([])

    // A crash: the output kept in memory is lost; the next output starts past the reservation,
    // never at an offset the author holds, and reaches it as a gap.
    const other = { ...KEY, job: 'b1b2c3d4e5f6' }
    const crashed = new LogSpool(builderDb, 1 << 20, { reserveBytes: 100 })
    crashed.append(other, 1, 'generate', 'kept in memory\n')
    const reborn = new LogSpool(builderDb, 1 << 20, { reserveBytes: 100 })
    expect(reborn.append(other, 1, 'generate', 'again\n')).toBe(115)
    expect(reborn.next(other, 0)).toMatchObject({ offset: 115, text: 'again\n', gap: true })
  })
})
