import { rmSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { walkClosure, type Closure, type ObjectReader } from '../../../src/git/closure.js'
import { ObjectStore } from '../../../src/git/object-store.js'
import type { RawObject } from '../../../src/git/cat-file.js'
import { Scratch, type TestRepo } from '../../helpers/git-repo.js'

function closureOids (closure: Closure): string[] {
  return [...closure.commits, ...closure.trees, ...closure.blobs].map(entry => entry.oid)
}

/** The closure's ids as a set, after checking that no object is listed twice. */
function closureSet (closure: Closure): Set<string> {
  const oids = closureOids(closure)
  expect(new Set(oids).size, 'no object is listed twice').toBe(oids.length)
  return new Set(oids)
}

/** Wraps a real store and counts how many objects the walk asks it for. */
class CountingReader implements ObjectReader {
  requested = 0
  calls = 0
  constructor (private readonly inner: ObjectReader) {}
  async readMany (oids: readonly string[]): Promise<Array<RawObject | null>> {
    this.calls++
    this.requested += oids.length
    return await this.inner.readMany(oids)
  }
}

const BASE_FILES: Record<string, string> = {
  'README.md': '# project\n',
  'package.json': '{ "name": "p" }\n',
  'src/index.ts': 'export * from "./lib"\n',
  'src/cli.ts': 'console.log("cli")\n',
  'src/lib/index.ts': 'export const lib = 1\n',
  'src/lib/util.ts': 'export const util = 2\n',
  'src/lib/deep/x.ts': 'export const x = 3\n',
  'src/lib/deep/y.ts': 'export const y = 4\n',
  'docs/guide.md': '# guide\n',
  'docs/img/logo.txt': 'logo\n',
  'test/a.test.ts': 'test a\n'
}

describe('walkClosure', () => {
  const scratch = new Scratch()
  const stores: ObjectStore[] = []

  afterEach(() => {
    for (const store of stores.splice(0)) store.close()
    scratch.cleanup()
  })

  async function setup (): Promise<{ repo: TestRepo, store: ObjectStore, base: string }> {
    const repo = scratch.repo()
    repo.writeFiles(BASE_FILES)
    repo.write('bin/run.sh', '#!/bin/sh\n', { executable: true })
    repo.symlink('latest', 'docs/guide.md')
    repo.commit('first')
    // A second commit, so a cold closure visibly leaves out history.
    repo.write('src/cli.ts', 'console.log("cli v2")\n')
    const base = repo.commit('second')
    const store = await ObjectStore.open(repo.dir)
    stores.push(store)
    return { repo, store, base }
  }

  it('cold: equals git rev-list --objects --no-walk (the commit and its whole tree, no parents)', async () => {
    const { repo, store, base } = await setup()
    const closure = await store.walkClosure([base], [])
    expect(closureSet(closure)).toEqual(repo.revListObjects([base], [], { noWalk: true }))
    expect(closure.commits).toEqual([{ oid: base, path: '' }])
    expect(closure.haves).toEqual([])
    expect(closure.missing).toEqual([])
    // Each id is in the list of its type, and its path is the one git reports.
    const revList = new Map(repo.git(['rev-list', '--objects', '--no-walk', base]).split('\n').map(line => [line.slice(0, 40), line.slice(41)]))
    for (const entry of closure.trees) {
      expect(repo.objectType(entry.oid)).toBe('tree')
      expect(entry.path).toBe(revList.get(entry.oid))
    }
    for (const entry of closure.blobs) {
      expect(repo.objectType(entry.oid)).toBe('blob')
      expect(entry.path).toBe(revList.get(entry.oid))
    }
    // The parent is not part of it.
    expect(closureSet(closure).has(repo.revParse(`${base}^`))).toBe(false)
  })

  it('cold: skips a gitlink (the submodule commit lives elsewhere), as git does', async () => {
    const { repo, store } = await setup()
    repo.git(['update-index', '--add', '--cacheinfo', `160000,${'1'.repeat(40)},vendor/sub`])
    repo.git(['commit', '-q', '-m', 'add submodule'])
    const head = repo.revParse('HEAD')
    const closure = await store.walkClosure([head], [])
    expect(closureSet(closure)).toEqual(repo.revListObjects([head], [], { noWalk: true }))
    expect(closureSet(closure).has('1'.repeat(40))).toBe(false)
    // vendor/ holds only the gitlink, yet its tree is part of the closure.
    expect(closureSet(closure).has(repo.revParse(`${head}:vendor`))).toBe(true)
  })

  it('incremental: a one-file change deep in the tree gives the commit, the trees along its path and the new blob', async () => {
    const { repo, store, base } = await setup()
    repo.write('src/lib/deep/x.ts', 'export const x = 30\n')
    const next = repo.commit('change x')
    const closure = await store.walkClosure([next], [base])
    const expected = new Set([
      next,
      repo.revParse(`${next}^{tree}`),
      repo.revParse(`${next}:src`),
      repo.revParse(`${next}:src/lib`),
      repo.revParse(`${next}:src/lib/deep`),
      repo.revParse(`${next}:src/lib/deep/x.ts`)
    ])
    expect(closureSet(closure)).toEqual(expected)
    expect(closureSet(closure)).toEqual(repo.revListObjects([next], [base]))
    expect(closure.haves).toEqual([base])
    expect(closure.trees.map(entry => entry.path).sort()).toEqual(['', 'src', 'src/lib', 'src/lib/deep'])
    // each changed object names the object at its path in the have, for a delta against it
    expect(closure.blobs).toEqual([{ oid: repo.revParse(`${next}:src/lib/deep/x.ts`), path: 'src/lib/deep/x.ts', base: repo.revParse(`${base}:src/lib/deep/x.ts`) }])
    expect(closure.trees.find(entry => entry.path === 'src/lib')?.base).toBe(repo.revParse(`${base}:src/lib`))
  })

  it('incremental: an added directory, a deleted file and a mode change', async () => {
    const { repo, store, base } = await setup()
    repo.writeFiles({ 'src/feature/a.ts': 'feature a\n', 'src/feature/inner/b.ts': 'feature b\n' })
    repo.remove('docs/img/logo.txt')
    repo.write('src/lib/util.ts', BASE_FILES['src/lib/util.ts']!, { executable: true })
    const next = repo.commit('add feature, delete logo, chmod util')
    const closure = await store.walkClosure([next], [base])
    expect(closureSet(closure)).toEqual(repo.revListObjects([next], [base]))
    // The mode change needs new trees but no new blob; the deletion empties docs/img away.
    expect(closure.blobs.map(entry => entry.path).sort()).toEqual(['src/feature/a.ts', 'src/feature/inner/b.ts'])
    expect(closure.trees.map(entry => entry.path).sort()).toEqual(['', 'docs', 'src', 'src/feature', 'src/feature/inner', 'src/lib'])
  })

  it('incremental: a deleted file gives only the commit and the trees that changed', async () => {
    const { repo, store, base } = await setup()
    repo.remove('src/lib/deep/y.ts')
    const next = repo.commit('delete y')
    const closure = await store.walkClosure([next], [base])
    expect(closureSet(closure)).toEqual(repo.revListObjects([next], [base]))
    expect(closure.blobs).toEqual([])
    expect(closure.trees.map(entry => entry.path).sort()).toEqual(['', 'src', 'src/lib', 'src/lib/deep'])
  })

  it('incremental: a directory renamed in place sends no tree or blob the have already holds', async () => {
    const { repo, store, base } = await setup()
    repo.git(['mv', 'src/lib', 'src/library'])
    repo.git(['mv', 'README.md', 'README.txt'])
    const next = repo.commit('rename lib and readme')
    const closure = await store.walkClosure([next], [base])
    expect(closureSet(closure)).toEqual(repo.revListObjects([next], [base]))
    expect(closure.trees.map(entry => entry.path).sort()).toEqual(['', 'src'])
    expect(closure.blobs).toEqual([])
  })

  it('incremental: a directory moved to another level is sent whole, and nothing outside the new tree is', async () => {
    const { repo, store, base } = await setup()
    repo.git(['mv', 'src/lib/deep', 'deep'])
    const next = repo.commit('move deep up')
    const closure = await store.walkClosure([next], [base])
    const got = closureSet(closure)
    for (const oid of repo.revListObjects([next], [base])) expect(got.has(oid)).toBe(true)
    const all = repo.revListObjects([next], [], { noWalk: true })
    for (const oid of got) expect(all.has(oid)).toBe(true)
  })

  it('the same tree under a new commit gives just the commit', async () => {
    const { repo, store, base } = await setup()
    const next = repo.commit('empty', { allowEmpty: true })
    const closure = await store.walkClosure([next], [base])
    expect(closure.commits).toEqual([{ oid: next, path: '' }])
    expect(closure.trees).toEqual([])
    expect(closure.blobs).toEqual([])
    expect(closureSet(closure)).toEqual(repo.revListObjects([next], [base]))
  })

  it('a want that is also a have gives nothing', async () => {
    const { store, base } = await setup()
    const closure = await store.walkClosure([base], [base])
    expect(closureOids(closure)).toEqual([])
    expect(closure.haves).toEqual([base])
  })

  it('with two haves, objects in either are left out', async () => {
    const { repo, store, base } = await setup()
    repo.write('src/lib/deep/x.ts', 'x from branch one\n')
    const one = repo.commit('one')
    repo.git(['checkout', '-q', '-b', 'two', base])
    repo.write('docs/guide.md', 'guide from branch two\n')
    const two = repo.commit('two')
    repo.git(['merge', '-q', '--no-edit', 'main'])
    const merged = repo.revParse('HEAD')
    const closure = await store.walkClosure([merged], [one, two])
    expect(closureSet(closure)).toEqual(repo.revListObjects([merged], [one, two]))
    expect(closure.blobs).toEqual([])
    expect(closure.haves).toEqual([one, two])
  })

  it('ignores a have it does not hold and walks cold', async () => {
    const { repo, store, base } = await setup()
    const closure = await store.walkClosure([base], ['f'.repeat(40)])
    expect(closure.haves).toEqual([])
    expect(closureSet(closure)).toEqual(repo.revListObjects([base], [], { noWalk: true }))
  })

  it('several wants share objects without listing them twice', async () => {
    const { repo, store, base } = await setup()
    repo.write('src/lib/deep/x.ts', 'x changed\n')
    const next = repo.commit('x')
    const closure = await store.walkClosure([base, next, base], [])
    expect(closureSet(closure)).toEqual(repo.revListObjects([base, next], [], { noWalk: true }))
    expect(closure.commits.map(entry => entry.oid)).toEqual([base, next])
  })

  it('skip leaves objects out but still descends the trees', async () => {
    const { repo, store, base } = await setup()
    const root = repo.revParse(`${base}^{tree}`)
    const src = repo.revParse(`${base}:src`)
    const readme = repo.revParse(`${base}:README.md`)
    const skip = new Set([base, root, src, readme])
    const closure = await store.walkClosure([base], [], { skip })
    const expected = repo.revListObjects([base], [], { noWalk: true })
    for (const oid of skip) expected.delete(oid)
    expect(closureSet(closure)).toEqual(expected)
    // Objects below the skipped trees are still there.
    expect(closureSet(closure).has(repo.revParse(`${base}:src/lib/deep/x.ts`))).toBe(true)
  })

  it('a missing tree throws MissingObjectError, or is reported with tolerateMissing', async () => {
    const { repo, store, base } = await setup()
    const lib = repo.revParse(`${base}:src/lib`)
    const below = repo.revParse(`${base}:src/lib/deep/x.ts`)
    const beside = repo.revParse(`${base}:src/index.ts`)
    const elsewhere = repo.revParse(`${base}:docs/img/logo.txt`)
    // Make the repository partial: remove the loose object of one tree.
    rmSync(path.join(repo.gitDir, 'objects', lib.slice(0, 2), lib.slice(2)))
    expect(repo.objectType(lib)).toBeUndefined()

    await expect(store.walkClosure([base], [])).rejects.toMatchObject({ name: 'MissingObjectError', oid: lib })

    const closure = await store.walkClosure([base], [], { tolerateMissing: true })
    expect(closure.missing).toEqual([lib])
    const got = closureSet(closure)
    expect(got.has(lib)).toBe(false)
    // What lies below the missing tree cannot be known; everything else is there.
    expect(got.has(below)).toBe(false)
    expect(got.has(beside)).toBe(true)
    expect(got.has(elsewhere)).toBe(true)
  })

  it('a missing want throws, or is reported with tolerateMissing; a non-commit want is malformed', async () => {
    const { repo, store, base } = await setup()
    const absent = 'e'.repeat(40)
    await expect(store.walkClosure([absent], [])).rejects.toMatchObject({ name: 'MissingObjectError', oid: absent })
    const closure = await store.walkClosure([absent, base], [], { tolerateMissing: true })
    expect(closure.missing).toEqual([absent])
    expect(closureSet(closure)).toEqual(repo.revListObjects([base], [], { noWalk: true }))
    await expect(store.walkClosure([repo.revParse(`${base}^{tree}`)], [])).rejects.toMatchObject({ name: 'MalformedObjectError' })
  })

  it('cost follows the change: a one-file change in ~300 files reads a handful of objects', async () => {
    const repo = scratch.repo()
    const files: Record<string, string> = {}
    for (let d = 0; d < 10; d++) {
      for (let s = 0; s < 3; s++) {
        for (let f = 0; f < 10; f++) files[`d${d}/s${s}/f${f}.txt`] = `file ${d}/${s}/${f}\n`
      }
    }
    repo.writeFiles(files)
    const base = repo.commit('300 files')
    repo.write('d5/s1/f3.txt', 'changed\n')
    const next = repo.commit('one change')
    const store = await ObjectStore.open(repo.dir)
    stores.push(store)

    const warm = new CountingReader(store)
    const closure = await walkClosure(warm, [next], [base])
    expect(closureSet(closure)).toEqual(repo.revListObjects([next], [base]))
    expect(closure.blobs.map(entry => entry.path)).toEqual(['d5/s1/f3.txt'])
    // Two commits, then the new and the old tree at each of the three levels on the path.
    expect(warm.requested).toBeLessThanOrEqual(2 + 2 * 3)
    expect(warm.requested).toBeLessThan(20)
    expect(warm.calls).toBeLessThanOrEqual(5)

    // A cold walk reads every tree but never a blob: still far below the object count.
    const cold = new CountingReader(store)
    const full = await walkClosure(cold, [next], [])
    expect(full.blobs).toHaveLength(300)
    expect(cold.requested).toBe(1 + full.trees.length)
    expect(full.trees).toHaveLength(1 + 10 + 30)
  })
})
