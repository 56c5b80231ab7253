import { afterEach, describe, expect, it, vi } from 'vitest'
import { LogBatcher, splitUtf8, splitUtf8Bytes, type LogPiece } from '../../../src/logs/batcher.js'

describe('LogBatcher', () => {
  afterEach(() => { vi.useRealTimers() })

  it('sends a lone line once the flush delay has passed after its first byte, not before', () => {
    vi.useFakeTimers()
    const batches: LogPiece[] = []
    const batcher = new LogBatcher({ onBatch: piece => batches.push(piece), flushMs: 20, batchBytes: 1024 })
    batcher.write('generate', 1, 'first line\n')
    vi.advanceTimersByTime(10)
    batcher.write('generate', 1, 'second line\n')
    vi.advanceTimersByTime(9)
    expect(batches).toEqual([])
    vi.advanceTimersByTime(1)
    expect(batches).toEqual([{ attempt: 1, step: 'generate', text: 'first line\nsecond line\n', bytes: 23, ready: true }])
  })

  it('lets a flood\'s batch wait longer, up to the bulk delay', () => {
    vi.useFakeTimers()
    const batches: LogPiece[] = []
    const batcher = new LogBatcher({ onBatch: piece => batches.push(piece), flushMs: 20, bulkBytes: 10, bulkFlushMs: 100, batchBytes: 1024 })
    batcher.write('generate', 1, 'a flood of output\n')
    vi.advanceTimersByTime(99)
    expect(batches).toEqual([])
    vi.advanceTimersByTime(1)
    expect(batches.map(b => b.text)).toEqual(['a flood of output\n'])
  })

  it('sends at once when a batch is full, in pieces no larger than a batch', () => {
    const batches: LogPiece[] = []
    const batcher = new LogBatcher({ onBatch: piece => batches.push(piece), flushMs: 60_000, batchBytes: 10 })
    batcher.write('test', 2, 'abcdefghijklmnopqrstuvwxy')
    expect(batches.map(b => b.text)).toEqual(['abcdefghij', 'klmnopqrst', 'uvwxy'])
    // Handed over to be kept, not yet to be sent: more of the same message may come.
    expect(batches.map(b => b.ready)).toEqual([false, false, false])
    batcher.flush()
    expect(batches.map(b => [b.text, b.ready])).toEqual([['abcdefghij', false], ['klmnopqrst', false], ['uvwxy', false], ['', true]])
  })

  it('sends a batch first when a write would take it past the bound: batches end between writes, uncut', () => {
    const batches: LogPiece[] = []
    const batcher = new LogBatcher({ onBatch: piece => batches.push(piece), flushMs: 60_000, batchBytes: 10 })
    batcher.write('test', 1, 'abcdé')
    batcher.write('test', 1, 'fgh')
    expect(batches).toEqual([])
    batcher.write('test', 1, 'jk')
    expect(batches).toEqual([{ attempt: 1, step: 'test', text: 'abcdéfgh', bytes: 9, ready: false }])
    batcher.flush()
    expect(batches.map(b => b.text)).toEqual(['abcdéfgh', 'jk'])
  })

  it('never mixes steps or attempts in one batch', () => {
    const batches: LogPiece[] = []
    const batcher = new LogBatcher({ onBatch: piece => batches.push(piece), flushMs: 60_000, batchBytes: 1024 })
    batcher.write('generate', 1, 'g1')
    batcher.write('test', 1, 't1')
    batcher.write('generate', 2, 'g2')
    batcher.flush()
    expect(batches).toEqual([
      { attempt: 1, step: 'generate', text: 'g1', bytes: 2, ready: true },
      { attempt: 1, step: 'test', text: 't1', bytes: 2, ready: true },
      { attempt: 2, step: 'generate', text: 'g2', bytes: 2, ready: true }
    ])
  })

  it('sends once a message\'s worth has gathered, however early: pieces handed over first, then one ready', () => {
    const batches: LogPiece[] = []
    const batcher = new LogBatcher({ onBatch: piece => batches.push(piece), flushMs: 60_000, batchBytes: 10, sendBytes: 25 })
    for (const write of ['abcdefgh', 'ijklmnop', 'qrstuvwx']) batcher.write('test', 1, write)
    expect(batches.map(b => [b.text, b.ready])).toEqual([['abcdefgh', false], ['ijklmnop', false]])
    batcher.write('test', 1, 'yz')
    expect(batches.map(b => [b.text, b.ready])).toEqual([['abcdefgh', false], ['ijklmnop', false], ['qrstuvwxyz', true]])
  })

  it('batches bytes as bytes, a write larger than a batch cut between characters, nothing lost', () => {
    const batches: LogPiece[] = []
    const batcher = new LogBatcher({ onBatch: piece => batches.push(piece), flushMs: 60_000, batchBytes: 7 })
    const text = 'aé€😀'.repeat(5)
    batcher.write('test', 1, Buffer.from('ab'))
    batcher.write('test', 1, Buffer.from('cd'))
    batcher.write('test', 1, Buffer.from(text))
    batcher.flush()
    for (const batch of batches.filter(b => b.bytes > 0)) {
      expect(Buffer.isBuffer(batch.text)).toBe(true)
      expect(batch.bytes).toBeLessThanOrEqual(7)
      expect((batch.text as Buffer).toString('utf8')).not.toContain('\uFFFD')
    }
    expect(batches.map(b => b.text.toString()).join('')).toBe('abcd' + text)
  })
})

describe('splitUtf8', () => {
  it('cuts bytes before a character\'s first byte, as views', () => {
    const bytes = Buffer.from('ab😀c')
    const pieces = splitUtf8Bytes(bytes, 4)
    expect(pieces.map(p => p.toString())).toEqual(['ab', '😀', 'c'])
    expect(pieces[1]!.buffer).toBe(bytes.buffer)
  })

  it('cuts between characters, each piece within the byte bound, losing nothing', () => {
    const text = 'aé€😀'.repeat(50)
    const pieces = splitUtf8(text, 7)
    expect(pieces.join('')).toBe(text)
    for (const piece of pieces) {
      expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(7)
      expect(piece).not.toContain('\uFFFD')
    }
  })
})
