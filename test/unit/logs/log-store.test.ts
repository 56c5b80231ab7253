import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openDatabase, type Db } from '../../../src/store/database.js'
import { deleteJobLogs, LogStore, placeBatch } from '../../../src/logs/log-store.js'
import type { LogBatch } from '../../../src/jobs/messages.js'

const BUILDER = '12D3KooWDMmtGs3HhCP5MkgWTya1JFyn6nPeZcWa9JTi6Xe4H9mm'
const JOB = 'a1b2c3d4e5f6'

function batch (offset: number, text: string, fields: Partial<LogBatch> = {}): LogBatch {
  return { type: 'log', job: JOB, round: 1, attempt: 1, step: 'generate', offset, text, ...fields }
}

describe('placeBatch: the author\'s offset bookkeeping', () => {
  it('takes a batch that starts where the stream stands', () => {
    expect(placeBatch(10, 10, 5, false)).toEqual({ skip: 0, lost: 0, held: 15 })
  })
  it('takes nothing of a batch it already holds (a resend)', () => {
    expect(placeBatch(15, 10, 5, false)).toEqual({ skip: null, lost: 0, held: 15 })
  })
  it('takes only the new tail of a batch it holds in part', () => {
    expect(placeBatch(12, 10, 5, false)).toEqual({ skip: 2, lost: 0, held: 15 })
  })
  it('refuses a batch past a gap, standing where it was', () => {
    expect(placeBatch(10, 20, 5, false)).toEqual({ skip: null, lost: 0, held: 10 })
  })
  it('takes a batch past a gap the builder declares, counting the bytes lost', () => {
    expect(placeBatch(10, 20, 5, true)).toEqual({ skip: 0, lost: 10, held: 25 })
  })
})

describe('LogStore', () => {
  let dir: string
  let db: Db
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-logstore-'))
    db = openDatabase(path.join(dir, 'db.sqlite'))
  })
  afterEach(async () => {
    db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps each byte once, in order, however batches are repeated or arrive past a gap', () => {
    const store = new LogStore(db)
    expect(store.take(BUILDER, batch(0, 'one\n')).held).toBe(4)
    expect(store.take(BUILDER, batch(0, 'one\n')).held).toBe(4)
    expect(store.take(BUILDER, batch(8, 'three\n')).held).toBe(4)
    expect(store.take(BUILDER, batch(4, 'two\n')).held).toBe(8)
    expect(store.take(BUILDER, batch(2, 'e\ntwo\nthree\n')).held).toBe(14)
    const { chunks, more } = store.read(JOB, { round: 1, maxBytes: 1 << 20 })
    expect(chunks.map(c => c.text).join('')).toBe('one\ntwo\nthree\n')
    expect(more).toBe(false)
  })

  it('reads from a cursor, a page at a time', () => {
    const store = new LogStore(db)
    let offset = 0
    for (let i = 0; i < 10; i++) offset = store.take(BUILDER, batch(offset, `line ${i}\n`)).held
    const first = store.read(JOB, { round: 1, maxBytes: 14 })
    expect(first.chunks.map(c => c.text)).toEqual(['line 0\n', 'line 1\n'])
    expect(first.more).toBe(true)
    const rest = store.read(JOB, { round: 1, from: first.next, maxBytes: 1 << 20 })
    expect(rest.chunks.map(c => c.text).join('')).toBe([2, 3, 4, 5, 6, 7, 8, 9].map(i => `line ${i}\n`).join(''))
  })

  it('bounds each attempt, dropping its oldest chunks and counting them', () => {
    const store = new LogStore(db, 20)
    let offset = 0
    for (let i = 0; i < 5; i++) offset = store.take(BUILDER, batch(offset, `line ${i}\n`)).held
    store.take(BUILDER, batch(offset, 'other attempt\n', { attempt: 2 }))
    expect(store.read(JOB, { round: 1, attempt: 1, maxBytes: 1 << 20 }).chunks.map(c => c.text).join('')).toBe('line 3\nline 4\n')
    expect(store.dropped(JOB, 1)).toEqual([{ attempt: 1, bytes: 21 }])
    expect(store.tail(JOB, 1, 1)).toEqual({ attempt: 2, lines: ['other attempt'] })
    expect(store.tail(JOB, 1, 5, 1)).toEqual({ attempt: 1, lines: ['line 3', 'line 4'] })
  })

  it('deleteJobLogs removes a job\'s logs and where its streams stood', () => {
    const store = new LogStore(db)
    store.take(BUILDER, batch(0, 'one\n'))
    deleteJobLogs(db, JOB)
    expect(store.read(JOB, { round: 1, maxBytes: 1 << 20 }).chunks).toEqual([])
    expect(store.held(JOB, 1, BUILDER)).toBe(0)
  })
})
