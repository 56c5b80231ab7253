import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ObjectStore } from '../../../src/git/object-store.js'
import type { Closure, ClosureEntry } from '../../../src/git/closure.js'
import { Scratch, git, gitSucceeds, type TestRepo } from '../../helpers/git-repo.js'

function entriesOf (closure: Closure): ClosureEntry[] {
  return [...closure.commits, ...closure.trees, ...closure.blobs]
}

async function collect (stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes
}

/** Ids among `oids` that `git cat-file --batch-check` in `dir` reports missing. */
function missingIn (dir: string, oids: Iterable<string>): string[] {
  const list = [...oids]
  const out = git(dir, ['cat-file', '--batch-check=%(objectname)'], { input: list.join('\n') + '\n' })
  return out.split('\n').filter(line => line.endsWith(' missing')).map(line => line.slice(0, 40))
}

/** A text of `lines` distinct lines, so a one-line change makes a good delta. */
function bigText (lines: number, tag: string): string {
  return Array.from({ length: lines }, (_, i) => `line ${i} of the big file: ${'x'.repeat(i % 50)}${i === 500 ? ` ${tag}` : ''}\n`).join('')
}

const NEWLINE_NAME = 'odd\nname.txt'

describe('ObjectStore', () => {
  const scratch = new Scratch()
  const stores: ObjectStore[] = []

  afterEach(() => {
    for (const store of stores.splice(0)) store.close()
    scratch.cleanup()
  })

  async function open (dir: string, init = false): Promise<ObjectStore> {
    const store = init ? await ObjectStore.openOrInit(dir) : await ObjectStore.open(dir)
    stores.push(store)
    return store
  }

  /** Repository A with history: c1, then c2 (the one to send). */
  async function source (): Promise<{ repo: TestRepo, store: ObjectStore, c1: string, c2: string }> {
    const repo = scratch.repo()
    repo.writeFiles({
      'README.md': '# project\n',
      'big.txt': bigText(1000, 'v1'),
      'src/index.ts': 'export {}\n',
      'src/lib/deep/x.ts': 'x\n',
      'docs/guide.md': 'guide\n'
    })
    repo.write('bin/run.sh', '#!/bin/sh\n', { executable: true })
    repo.symlink('latest', 'docs/guide.md')
    // A name with a newline: pack-objects reads one object per line.
    repo.write(NEWLINE_NAME, 'odd\n')
    const c1 = repo.commit('first')
    repo.write('src/index.ts', 'export const v = 2\n')
    const c2 = repo.commit('second')
    return { repo, store: await open(repo.dir), c1, c2 }
  }

  /** Packs closure(wants, haves) from `from` and receives it into `into`; returns what check saw. */
  async function transfer (from: ObjectStore, into: ObjectStore, wants: string[], haves: string[]): Promise<{ closure: Closure, checked: string[], received: string[] }> {
    const closure = await from.walkClosure(wants, haves)
    const { stream, done } = from.packObjects(entriesOf(closure), haves)
    let checked: string[] = []
    const received = await into.receivePack(stream, (oids) => { checked = oids })
    await done
    return { closure, checked, received: received.oids }
  }

  function packDirFiles (store: ObjectStore): string[] {
    const dir = path.join(store.paths.objectDir, 'pack')
    return existsSync(dir) ? readdirSync(dir) : []
  }

  function incomingDirs (store: ObjectStore): string[] {
    return readdirSync(store.paths.objectDir).filter(name => name.startsWith('incoming-'))
  }

  describe('open and openOrInit', () => {
    it('opens a working tree and a bare repository, and refuses a plain directory', async () => {
      const work = scratch.repo()
      const store = await open(work.dir)
      expect(store.paths.gitDir).toBe(work.gitDir)
      expect(store.paths.objectDir).toBe(path.join(work.gitDir, 'objects'))
      expect(store.paths.commonDir).toBe(work.gitDir)

      const bare = scratch.repo({ bare: true })
      const bareStore = await open(bare.dir)
      expect(bareStore.paths.objectDir).toBe(path.join(bare.dir, 'objects'))
      expect(bareStore.paths.workTree).toBeUndefined()

      await expect(ObjectStore.open(scratch.dir())).rejects.toMatchObject({ name: 'NotARepositoryError' })
    })

    it('openOrInit creates a repository where there is none and reuses existing ones', async () => {
      const parent = scratch.dir()
      const dir = path.join(parent, 'nested', 'node-repo')
      const store = await open(dir, true)
      expect(git(dir, ['rev-parse', '--is-inside-work-tree'])).toBe('true')
      expect(store.paths.objectDir).toBe(path.join(dir, '.git', 'objects'))

      // Existing repositories are opened as they are, not initialized again.
      const work = scratch.repo()
      work.write('a.txt', 'a\n')
      const head = work.commit('a')
      const again = await open(work.dir, true)
      expect(await again.resolveCommit('HEAD')).toBe(head)
      const bare = scratch.repo({ bare: true })
      const bareStore = await open(bare.dir, true)
      expect(bareStore.paths.objectDir).toBe(path.join(bare.dir, 'objects'))
      expect(existsSync(path.join(bare.dir, '.git'))).toBe(false)
    })
  })

  describe('reading', () => {
    it('readMany returns every object byte for byte as git cat-file does, null for missing ones, in order', async () => {
      const { repo, store } = await source()
      // Bigger than a pipe buffer, so the answer arrives in many chunks.
      repo.write('large.bin', Buffer.alloc(1024 * 1024 + 7, 'abcdefghij'))
      repo.commit('large')
      const all = [...repo.revListObjects(['--all'])]
      expect(all.length).toBeGreaterThan(15)
      const absent = '0123456789abcdef0123456789abcdef01234567'
      const asked = [absent, ...all.slice(0, 5), absent, ...all.slice(5)]
      const objects = await store.readMany(asked)
      expect(objects).toHaveLength(asked.length)
      expect(objects[0]).toBeNull()
      expect(objects[6]).toBeNull()
      asked.forEach((oid, i) => {
        if (oid === absent) return
        const object = objects[i]!
        const type = repo.git(['cat-file', '-t', oid])
        expect(object.oid).toBe(oid)
        expect(object.type).toBe(type)
        expect(object.body.equals(repo.gitRaw(['cat-file', type, oid])), `body of ${oid}`).toBe(true)
      })
      const large = objects[asked.indexOf(repo.revParse('HEAD:large.bin'))]!
      expect(large.body.length).toBe(1024 * 1024 + 7)
    })

    it('answers concurrent readMany calls in order, and refuses reads once closed', async () => {
      const { repo, store, c1, c2 } = await source()
      const [a, b, c] = await Promise.all([store.readMany([c1]), store.readMany([c2, c1]), store.readMany([])])
      expect(a.map(o => o?.oid)).toEqual([c1])
      expect(b.map(o => o?.oid)).toEqual([c2, c1])
      expect(c).toEqual([])
      expect(b[0]?.body.equals(repo.gitRaw(['cat-file', 'commit', c2]))).toBe(true)
      store.close()
      // A closed store starts no new git process behind its owner's back.
      await expect(store.readMany([c2])).rejects.toThrow('closed')
    })

    it('infoMany and presentSet agree with git cat-file --batch-check', async () => {
      const { repo, store } = await source()
      const all = [...repo.revListObjects(['--all'])]
      const absent = 'f'.repeat(40)
      const infos = await store.infoMany([...all, absent])
      expect(infos.at(-1)).toBeNull()
      const expected = repo.git(['cat-file', '--batch-check'], { input: all.join('\n') + '\n' }).split('\n')
      expect(infos.slice(0, -1).map(info => `${info?.oid} ${info?.type} ${info?.size}`)).toEqual(expected)
      expect(await store.presentSet([absent, all[0]!])).toEqual(new Set([all[0]]))
    })

    it('resolves revisions, ancestry and refs', async () => {
      const { repo, store, c1, c2 } = await source()
      expect(await store.resolveCommit('HEAD')).toBe(c2)
      expect(await store.resolveCommit('HEAD~1')).toBe(c1)
      expect(await store.resolveCommit('no-such-branch')).toBeUndefined()
      expect(await store.resolveCommit(repo.revParse('HEAD^{tree}'))).toBeUndefined()
      expect(await store.isAncestor(c1, c2)).toBe(true)
      expect(await store.isAncestor(c2, c1)).toBe(false)
      expect(await store.isAncestor('e'.repeat(40), c2)).toBe(false)
      await store.updateRef('refs/gitmesh/results/job-1', c1)
      expect(repo.revParse('refs/gitmesh/results/job-1')).toBe(c1)
      await store.updateRef('refs/gitmesh/results/job-2', c2)
      const listed = await store.listRefCommits('refs/gitmesh/', 10)
      expect(new Set(listed)).toEqual(new Set([c1, c2]))
      expect(await store.listRefCommits('refs/gitmesh/', 1)).toHaveLength(1)
    })
  })

  describe('pack round trip', () => {
    it('cold: B receives every object of the closure, and after marking shallow git fsck --strict passes', async () => {
      const { repo, store, c2 } = await source()
      const b = await open(path.join(scratch.dir(), 'b'), true)
      const { closure, checked, received } = await transfer(store, b, [c2], [])
      const expected = repo.revListObjects([c2], [], { noWalk: true })
      expect(new Set(entriesOf(closure).map(entry => entry.oid))).toEqual(expected)
      expect(new Set(received)).toEqual(expected)
      expect(checked).toEqual(received)
      expect(missingIn(b.paths.gitDir, expected)).toEqual([])
      // The blob under the newline name made it too.
      expect(gitSucceeds(b.paths.gitDir, ['cat-file', '-e', repo.revParse(`${c2}:${NEWLINE_NAME}`)])).toBe(true)
      // The pack landed in B's pack directory, and the quarantine is gone.
      expect(packDirFiles(b).filter(name => name.endsWith('.pack'))).toHaveLength(1)
      expect(packDirFiles(b).filter(name => name.endsWith('.idx'))).toHaveLength(1)
      expect(incomingDirs(b)).toEqual([])

      // The parent is absent: until c2 is marked shallow, git calls B broken.
      git(b.paths.gitDir, ['update-ref', 'refs/gitmesh/snapshots/s', c2])
      expect(gitSucceeds(b.paths.gitDir, ['fsck', '--strict'])).toBe(false)
      expect(await b.markShallowWhereParentsMissing([c2])).toEqual([c2])
      expect(readFileSync(path.join(b.paths.commonDir, 'shallow'), 'utf8')).toBe(`${c2}\n`)
      git(b.paths.gitDir, ['fsck', '--strict', '--no-progress'])
      expect(git(b.paths.gitDir, ['cat-file', '-p', c2])).toBe(repo.git(['cat-file', '-p', c2]))
      expect(git(b.paths.gitDir, ['ls-tree', '-r', c2])).toBe(repo.git(['ls-tree', '-r', c2]))
      expect(git(b.paths.gitDir, ['log', '--format=%H', c2])).toBe(c2)
      // Marking again is idempotent.
      expect(await b.markShallowWhereParentsMissing([c2])).toEqual([c2])
      expect(readFileSync(path.join(b.paths.commonDir, 'shallow'), 'utf8')).toBe(`${c2}\n`)
    })

    it('incremental: a thin pack against the old commit is completed with B\'s own objects', async () => {
      const { repo, store, c2 } = await source()
      const b = await open(path.join(scratch.dir(), 'b'), true)
      await transfer(store, b, [c2], [])
      await b.markShallowWhereParentsMissing([c2])

      repo.write('big.txt', bigText(1000, 'v2'))
      repo.write('src/new.ts', 'new\n')
      const c3 = repo.commit('third')
      const closure = await store.walkClosure([c3], [c2])
      expect(new Set(entriesOf(closure).map(entry => entry.oid))).toEqual(repo.revListObjects([c3], [c2]))
      const { stream, done } = store.packObjects(entriesOf(closure), [c2])
      const bytes = await collect(stream)
      await done

      // The pack is thin: on its own (no delta bases at hand) git cannot index it.
      const empty = scratch.repo({ bare: true })
      expect(gitSucceeds(empty.dir, ['index-pack', '--stdin', '--fix-thin'], { input: bytes })).toBe(false)
      const full = store.packObjects(entriesOf(closure), [])
      const fullBytes = await collect(full.stream)
      await full.done
      expect(bytes.length).toBeLessThan(fullBytes.length)

      let checked: string[] = []
      const received = await b.receivePack(once(bytes), (oids) => { checked = oids })
      expect(checked).toEqual(received.oids)
      for (const entry of entriesOf(closure)) expect(received.oids).toContain(entry.oid)
      expect(missingIn(b.paths.gitDir, repo.revListObjects([c3], [], { noWalk: true }))).toEqual([])
      // c3's parent c2 is present now, so c3 needs no shallow mark.
      expect(await b.markShallowWhereParentsMissing([c3])).toEqual([])
      git(b.paths.gitDir, ['update-ref', 'refs/gitmesh/snapshots/s', c3])
      git(b.paths.gitDir, ['fsck', '--strict', '--no-progress'])
      expect(git(b.paths.gitDir, ['cat-file', 'blob', `${c3}:big.txt`])).toBe(repo.git(['cat-file', 'blob', `${c3}:big.txt`]))
      expect(git(b.paths.gitDir, ['log', '--format=%H', c3]).split('\n')).toEqual([c3, c2])
      expect(incomingDirs(b)).toEqual([])
    })

    it('concurrent shallow marks from side-by-side fetches all land in the shallow file', async () => {
      const { repo, store } = await source()
      const commits: string[] = []
      for (let i = 0; i < 3; i++) {
        repo.write('src/index.ts', `export const v = ${10 + i}\n`)
        commits.push(repo.commit(`more ${i}`))
      }
      const [first, , third] = commits as [string, string, string]
      const b = await open(path.join(scratch.dir(), 'b'), true)
      await transfer(store, b, [first], [])
      await transfer(store, b, [third], [])
      const marked = await Promise.all([b.markShallowWhereParentsMissing([first]), b.markShallowWhereParentsMissing([third])])
      expect(marked).toEqual([[first], [third]])
      expect(readFileSync(path.join(b.paths.commonDir, 'shallow'), 'utf8')).toBe([first, third].sort().join('\n') + '\n')
      expect(existsSync(path.join(b.paths.commonDir, 'shallow.lock'))).toBe(false)
      git(b.paths.gitDir, ['update-ref', 'refs/gitmesh/a', first])
      git(b.paths.gitDir, ['update-ref', 'refs/gitmesh/b', third])
      git(b.paths.gitDir, ['fsck', '--strict', '--no-progress'])
    })

    it('a small pack is complete even when read only after pack-objects has exited', async () => {
      const repo = scratch.repo()
      repo.write('a.txt', 'a\n')
      const c = repo.commit('tiny')
      const store = await open(repo.dir)
      const closure = await store.walkClosure([c], [])
      const { stream, done } = store.packObjects(entriesOf(closure), [])
      // The reader is late: the child has exited and Node has flushed its stdout by now.
      await done
      await new Promise(resolve => setImmediate(resolve))
      const bytes = await collect(stream)
      expect(bytes.subarray(0, 4).toString('latin1')).toBe('PACK')
      const b = await open(path.join(scratch.dir(), 'b'), true)
      const received = await b.receivePack(once(bytes), () => {})
      expect(new Set(received.oids)).toEqual(repo.revListObjects([c], [], { noWalk: true }))
    })

    it('readers that saw objects missing find them once a pack arrives, and reads in flight are answered', async () => {
      const { store, c2 } = await source()
      const b = await open(path.join(scratch.dir(), 'b'), true)
      const closure = await store.walkClosure([c2], [])
      const oids = entriesOf(closure).map(entry => entry.oid)
      // Both long-lived readers are running and have answered "missing".
      expect(await b.readMany(oids)).toEqual(oids.map(() => null))
      expect(await b.infoMany(oids)).toEqual(oids.map(() => null))

      const { stream, done } = store.packObjects(entriesOf(closure), [])
      let inFlight: Promise<unknown> | undefined
      await b.receivePack(stream, () => {
        // A reader busy with another request (a walk served to some peer) while the pack lands.
        inFlight = b.readMany(Array.from({ length: 20_000 }, () => oids[0]!))
        inFlight.catch(() => { /* awaited below */ })
      })
      await done
      const answers = await inFlight as unknown[]
      expect(answers).toHaveLength(20_000)
      expect((await b.readMany(oids)).map(object => object?.oid)).toEqual(oids)
      expect((await b.infoMany(oids)).map(info => info?.oid)).toEqual(oids)
    })

    it.each([
      ['throws', (): void => { throw new Error('refused by check') }],
      ['rejects', async (): Promise<void> => { throw new Error('refused by check') }]
    ])('discards the whole pack when check %s', async (_, check) => {
      const { store, c2 } = await source()
      const b = await open(path.join(scratch.dir(), 'b'), true)
      const closure = await store.walkClosure([c2], [])
      const { stream, done } = store.packObjects(entriesOf(closure), [])
      await expect(b.receivePack(stream, check)).rejects.toThrow('refused by check')
      await done
      expect(packDirFiles(b)).toEqual([])
      expect(incomingDirs(b)).toEqual([])
      expect(missingIn(b.paths.gitDir, entriesOf(closure).map(entry => entry.oid))).toHaveLength(entriesOf(closure).length)
    })

    it.each(['.git', '..', '.GIT', 'git~1', '.git.'])('refuses a tree with an entry named %j and stores nothing', async (name) => {
      const repo = scratch.repo()
      const store = await open(repo.dir)
      const blob = repo.git(['hash-object', '-w', '--stdin'], { input: '[core]\n\tfsmonitor = "touch /tmp/pwned"\n' })
      // Hand-made trees, which git's own checks would refuse to write.
      const evilBody = Buffer.concat([Buffer.from(`100644 ${name}\0`, 'latin1'), Buffer.from(blob, 'hex')])
      const evil = repo.git(['hash-object', '-t', 'tree', '--literally', '-w', '--stdin'], { input: evilBody })
      const outerBody = Buffer.concat([Buffer.from('40000 innocent\0'), Buffer.from(evil, 'hex')])
      const outer = repo.git(['hash-object', '-t', 'tree', '-w', '--stdin'], { input: outerBody })
      expect(repo.git(['ls-tree', '-r', '--name-only', outer])).toBe(`innocent/${name}`)

      const b = await open(path.join(scratch.dir(), 'b'), true)
      const entries: ClosureEntry[] = [{ oid: outer, path: '' }, { oid: evil, path: 'innocent' }, { oid: blob, path: `innocent/${name}` }]
      const { stream, done } = store.packObjects(entries, [])
      let checked: string[] = []
      // index-pack's fsck names the offending tree; the name is git's class of it ('.git' covers git~1 and '.git.').
      await expect(b.receivePack(stream, (oids) => { checked = oids })).rejects.toMatchObject({ name: 'UnsafePathError', tree: evil, entryName: name === '..' ? '..' : '.git' })
      await done
      // Refused while indexing, before any id reached check, and none of it was kept.
      expect(checked).toEqual([])
      expect(packDirFiles(b)).toEqual([])
      expect(incomingDirs(b)).toEqual([])
      expect(missingIn(b.paths.gitDir, [outer, evil, blob])).toHaveLength(3)
    })

    it('rejects bytes that are not a pack and keeps nothing', async () => {
      const b = await open(path.join(scratch.dir(), 'b'), true)
      await expect(b.receivePack(once(Buffer.from('PACK but not really a pack')), () => {})).rejects.toMatchObject({ name: 'GitCommandError' })
      expect(packDirFiles(b)).toEqual([])
      expect(incomingDirs(b)).toEqual([])
    })
  })
})
