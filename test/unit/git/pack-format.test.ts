import { afterEach, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { applyDelta, encodeDelta } from '../../../src/git/delta.js'
import { objectId, parsePack, writePack } from '../../../src/git/pack-format.js'
import { receiveSmallPack } from '../../../src/git/small-pack.js'
import { ObjectStore } from '../../../src/git/object-store.js'
import { TestRepo, gitSucceeds } from '../../helpers/git-repo.js'

function gitBytes (cwd: string, args: string[], input?: string | Buffer): Buffer {
  return execFileSync('git', args, { cwd, input, maxBuffer: 64 * 1024 * 1024 })
}

describe('git deltas, in-process', () => {
  const cases: Array<[string, string]> = [
    ['hello world\n', 'hello brave new world\n'],
    ['', 'from nothing'],
    ['to nothing', ''],
    ['same', 'same'],
    ['a'.repeat(70_000) + 'tail', 'a'.repeat(70_000) + 'TAIL and more'],
    ['x'.repeat(200_000), 'y' + 'x'.repeat(199_999)]
  ]
  it.each(cases)('round-trips %#', (base, target) => {
    const delta = encodeDelta(Buffer.from(base), Buffer.from(target))
    expect(applyDelta(Buffer.from(base), delta, 1 << 24).toString()).toBe(target)
  })

  it('refuses deltas that point outside the base or the result', () => {
    const base = Buffer.from('0123456789')
    // base size 10, result size 5, copy offset 8 size 5: past the end of the base
    expect(() => applyDelta(base, Uint8Array.from([10, 5, 0x91, 8, 5]), 100)).toThrow(/out of bounds/)
    // result size larger than allowed
    expect(() => applyDelta(base, Uint8Array.from([10, 0xe8, 0x07]), 100)).toThrow(/exceeds/)
    // wrong base size
    expect(() => applyDelta(base, Uint8Array.from([9, 1, 1, 65]), 100)).toThrow(/base of 9/)
  })
})

describe('packs, in-process, checked against git', () => {
  const repos: TestRepo[] = []
  const fresh = (): TestRepo => { const repo = TestRepo.init(); repos.push(repo); return repo }
  afterEach(() => { for (const repo of repos.splice(0)) rmSync(repo.dir, { recursive: true, force: true }) })

  it('writes packs that git indexes to the same ids, thin ones included', async () => {
    const repo = fresh()
    const baseBody = Buffer.from('line\n'.repeat(200))
    const base = repo.git(['hash-object', '-w', '--stdin'], { input: baseBody })
    const newBody = Buffer.concat([baseBody, Buffer.from('one more line\n')])
    const pack = writePack([
      { type: 'blob', body: Buffer.from('whole\n') },
      { refDelta: base, delta: encodeDelta(baseBody, newBody) }
    ])
    const packFile = path.join(repo.dir, 'in.pack')
    writeFileSync(packFile, pack)
    const out = gitBytes(repo.dir, ['index-pack', '--stdin', '--fix-thin'], pack).toString()
    expect(out).toMatch(/^pack\t[0-9a-f]{40}/)
    expect(repo.git(['cat-file', '-p', objectId('blob', newBody)])).toBe(newBody.toString().trimEnd())
    expect(repo.git(['cat-file', '-p', objectId('blob', Buffer.from('whole\n'))])).toBe('whole')
  })

  it('reads packs git wrote, with OFS deltas, to the ids git computed', async () => {
    const repo = fresh()
    for (let i = 0; i < 6; i++) repo.write(`f${i}.txt`, `${'shared content line\n'.repeat(100)}variant ${i}\n`)
    const head = repo.commit('similar files')
    const list = repo.git(['rev-list', '--objects', head])
    const pack = gitBytes(repo.dir, ['pack-objects', '--stdout', '-q', '--delta-base-offset', '--window=10'], list + '\n')
    const objects = await parsePack(pack, { maxObjectBytes: 1 << 20, readBase: async () => null })
    const expected = new Set(list.split('\n').map(line => line.slice(0, 40)))
    expect(new Set(objects.map(o => o.oid))).toEqual(expected)
    const corrupt = Buffer.from(pack)
    corrupt[40] = corrupt[40]! ^ 0xff
    await expect(parsePack(corrupt, { maxObjectBytes: 1 << 20, readBase: async () => null })).rejects.toMatchObject({ name: 'MalformedObjectError' })
  })

  it('receives a small pack: objects git can read, after checking trees; refuses unsafe or unsorted trees and tags, storing nothing', async () => {
    const source = fresh()
    source.write('a.txt', 'a\n')
    source.write('dir/b.txt', 'b\n')
    const commit = source.commit('small')
    const oids = source.git(['rev-list', '--objects', '--no-walk', commit]).split('\n').map(line => line.slice(0, 40))
    const objects = oids.map(oid => ({ type: source.git(['cat-file', '-t', oid]) as 'commit' | 'tree' | 'blob', body: gitBytes(source.dir, ['cat-file', source.git(['cat-file', '-t', oid]), oid]) }))
    const target = fresh()
    const store = await ObjectStore.open(target.dir)
    try {
      let seen: string[] = []
      const stored = await receiveSmallPack(store, writePack(objects), ids => { seen = ids })
      expect(new Set(stored)).toEqual(new Set(oids))
      expect(new Set(seen)).toEqual(new Set(oids))
      expect(target.git(['cat-file', '-p', `${commit}:dir/b.txt`])).toBe('b')
      target.git(['update-ref', 'refs/heads/main', commit])
      target.git(['fsck', '--strict'])

      const blob = target.git(['hash-object', '--stdin'], { input: 'x' })
      const tree = (entries: Array<[string, string]>): Buffer => Buffer.concat(entries.map(([mode, name]) => Buffer.concat([Buffer.from(`${mode} ${name}\0`, 'latin1'), Buffer.from(blob, 'hex')])))
      const unsafe = writePack([{ type: 'blob', body: Buffer.from('x') }, { type: 'tree', body: tree([['100644', '.GIT']]) }])
      await expect(receiveSmallPack(store, unsafe, () => {})).rejects.toMatchObject({ name: 'UnsafePathError' })
      const unsorted = writePack([{ type: 'blob', body: Buffer.from('x') }, { type: 'tree', body: tree([['100644', 'b'], ['100644', 'a']]) }])
      await expect(receiveSmallPack(store, unsorted, () => {})).rejects.toMatchObject({ name: 'MalformedObjectError' })
      // a file and a folder of one name sort apart ('a' < 'a/') but are duplicates all the same, as git's fsck says
      const twice = writePack([{ type: 'blob', body: Buffer.from('x') }, { type: 'tree', body: tree([['100644', 'a'], ['40000', 'a']]) }])
      await expect(receiveSmallPack(store, twice, () => {})).rejects.toMatchObject({ name: 'MalformedObjectError' })
      const tag = writePack([{ type: 'tag', body: Buffer.from(`object ${commit}\ntype commit\ntag v1\ntagger t <t@t> 0 +0000\n\nv1\n`) }])
      await expect(receiveSmallPack(store, tag, () => {})).rejects.toMatchObject({ name: 'MalformedObjectError' })
      // the blob travelled with the refused trees: none of it was stored
      expect(gitSucceeds(target.dir, ['cat-file', '-e', blob])).toBe(false)
    } finally {
      store.close()
    }
  })
})
