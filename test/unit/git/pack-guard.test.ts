import { afterEach, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { guardPack } from '../../../src/git/pack-guard.js'
import { writePack } from '../../../src/git/pack-format.js'
import { git, gitRaw } from '../../helpers/git-repo.js'

/** Feeds `pack` through the guard in chunks of the given sizes (cycled), returning what came out. */
async function throughGuard (pack: Buffer, chunkSizes: number[], maxObjectBytes = 1 << 30, onCount?: (count: number) => void): Promise<Buffer> {
  async function * chunks (): AsyncGenerator<Uint8Array> {
    let at = 0
    for (let i = 0; at < pack.length; i++) {
      const size = chunkSizes[i % chunkSizes.length]!
      yield pack.subarray(at, at + size)
      at += size
    }
  }
  const out: Buffer[] = []
  for await (const chunk of guardPack(chunks(), { maxObjectBytes, onCount })) out.push(Buffer.from(chunk))
  return Buffer.concat(out)
}

/** A delta (git's format) that copies the first 64 KiB of its base `copies` times. */
function repeatingDelta (baseSize: number, copies: number): Buffer {
  const varint = (value: number): number[] => {
    const bytes: number[] = []
    do {
      let byte = value & 0x7f
      value = Math.floor(value / 128)
      if (value > 0) byte |= 0x80
      bytes.push(byte)
    } while (value > 0)
    return bytes
  }
  // 0x80 alone: copy from offset 0, size 0x10000.
  return Buffer.from([...varint(baseSize), ...varint(copies * 0x10000), ...new Array<number>(copies).fill(0x80)])
}

describe('guardPack', () => {
  const dirs: string[] = []
  afterEach(() => { for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true }) })

  function packOfRepo (): { pack: Buffer, objects: number } {
    const dir = mkdtempSync(path.join(tmpdir(), 'gitmesh-guard-'))
    dirs.push(dir)
    git(dir, ['init', '-q'])
    const text = Array.from({ length: 2000 }, (_, i) => `line ${i} of a file that changes a little\n`).join('')
    const ids: string[] = []
    // Similar texts (git makes OFS deltas of them), a large incompressible blob (inflated as a
    // stream), and an empty one.
    for (let i = 0; i < 40; i++) ids.push(git(dir, ['hash-object', '-w', '--stdin'], { input: text.replace(`line ${i * 10} `, `LINE ${i} `) }))
    ids.push(git(dir, ['hash-object', '-w', '--stdin'], { input: randomBytes(1_500_000) }))
    ids.push(git(dir, ['hash-object', '-w', '--stdin'], { input: '' }))
    const pack = gitRaw(dir, ['pack-objects', '--stdout', '-q', '--delta-base-offset'], { input: ids.join('\n') + '\n' })
    return { pack, objects: ids.length }
  }

  it('passes a real pack with deltas through unchanged, however it is cut', async () => {
    const { pack, objects } = packOfRepo()
    for (const sizes of [[pack.length], [7, 3, 1000], [65_536], [262_144, 5]]) {
      let count: number | undefined
      const out = await throughGuard(pack, sizes, 1 << 30, n => { count = n })
      expect(out.equals(pack)).toBe(true)
      expect(count).toBe(objects)
    }
  })

  it('refuses an object whose header is over the limit before passing its bytes on', async () => {
    const pack = writePack([{ type: 'blob', body: Buffer.alloc(2000, 1) }])
    await expect(throughGuard(pack, [pack.length], 1000)).rejects.toMatchObject({ name: 'ObjectTooLargeError', bytes: 2000, limit: 1000 })
  })

  it('refuses a small delta that makes an object over the limit', async () => {
    const base = Buffer.alloc(0x10000, 0x61)
    // 16 KiB of delta that would make a 1 GiB blob.
    const delta = repeatingDelta(base.length, 16_384)
    const pack = writePack([{ type: 'blob', body: base }, { refDelta: '0'.repeat(40), delta }])
    expect(pack.length).toBeLessThan(1000)
    for (const sizes of [[pack.length], [3]]) {
      await expect(throughGuard(pack, sizes, 100 * 1024 * 1024)).rejects.toMatchObject({ name: 'ObjectTooLargeError', bytes: 1024 ** 3 })
    }
  })

  it('refuses a pack that ends early, or that goes on after its trailer', async () => {
    const pack = writePack([{ type: 'blob', body: Buffer.from('one') }, { type: 'blob', body: Buffer.from('two') }])
    await expect(throughGuard(pack.subarray(0, pack.length - 25), [5])).rejects.toMatchObject({ name: 'MalformedObjectError' })
    await expect(throughGuard(pack.subarray(0, pack.length - 3), [5])).rejects.toMatchObject({ name: 'MalformedObjectError' })
    await expect(throughGuard(Buffer.concat([pack, Buffer.from('more')]), [5])).rejects.toMatchObject({ name: 'MalformedObjectError' })
  })

  it('refuses an entry that inflates to more than its header says, and corrupt data', async () => {
    const pack = writePack([{ type: 'blob', body: Buffer.from('twelve bytes') }])
    const lying = Buffer.from(pack)
    lying[12] = (lying[12]! & 0xf0) | 0x05 // the header now says 5 bytes
    await expect(throughGuard(lying, [lying.length])).rejects.toMatchObject({ name: 'MalformedObjectError' })
    const corrupt = Buffer.from(pack)
    corrupt[15] = corrupt[15]! ^ 0xff
    await expect(throughGuard(corrupt, [corrupt.length])).rejects.toMatchObject({ name: 'MalformedObjectError' })
  })
})
