import { afterEach, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { TestRepo } from '../../helpers/git-repo.js'
import { readHeadCommit } from '../../../src/git/refs.js'
import { writeLooseObject } from '../../../src/git/loose-object.js'
import { locateRepository } from '../../../src/git/repository.js'

describe('readHeadCommit and writeLooseObject (git is the oracle)', () => {
  const repos: TestRepo[] = []
  const fresh = (): TestRepo => { const repo = TestRepo.init(); repos.push(repo); return repo }
  afterEach(() => { for (const repo of repos.splice(0)) rmSync(repo.dir, { recursive: true, force: true }) })

  it('reads HEAD through a branch, a packed ref, a detached HEAD and an unborn branch', async () => {
    const repo = fresh()
    const paths = await locateRepository(repo.dir)
    expect(await readHeadCommit(paths)).toBeUndefined()
    repo.write('a.txt', 'a\n')
    repo.git(['add', '-A'])
    repo.git(['commit', '-q', '-m', 'one'])
    expect(await readHeadCommit(paths)).toBe(repo.git(['rev-parse', 'HEAD']))
    repo.git(['pack-refs', '--all'])
    expect(await readHeadCommit(paths)).toBe(repo.git(['rev-parse', 'HEAD']))
    repo.write('b.txt', 'b\n')
    repo.git(['add', '-A'])
    repo.git(['commit', '-q', '-m', 'two'])
    repo.git(['checkout', '-q', '--detach', 'HEAD~1'])
    expect(await readHeadCommit(paths)).toBe(repo.git(['rev-parse', 'HEAD']))
  })

  it('reads the HEAD of a linked worktree, not the main one', async () => {
    const repo = fresh()
    repo.write('a.txt', 'a\n')
    repo.git(['add', '-A'])
    repo.git(['commit', '-q', '-m', 'one'])
    const first = repo.git(['rev-parse', 'HEAD'])
    repo.write('a.txt', 'b\n')
    repo.git(['commit', '-q', '-am', 'two'])
    const linked = `${repo.dir}-linked`
    repo.git(['worktree', 'add', '-q', '--detach', linked, first])
    try {
      expect(await readHeadCommit(await locateRepository(linked))).toBe(first)
      expect(await readHeadCommit(await locateRepository(repo.dir))).toBe(repo.git(['rev-parse', 'HEAD']))
    } finally {
      rmSync(linked, { recursive: true, force: true })
    }
  })

  it('writes loose objects git reads back under the same id', async () => {
    const repo = fresh()
    const paths = await locateRepository(repo.dir)
    const body = Buffer.from('hello loose object\n')
    const oid = await writeLooseObject(paths.objectDir, 'blob', body)
    expect(oid).toBe(repo.git(['hash-object', '--stdin'], { input: body }))
    expect(repo.git(['cat-file', '-p', oid])).toBe('hello loose object')
    // writing it again is a no-op that returns the same id
    expect(await writeLooseObject(paths.objectDir, 'blob', body)).toBe(oid)
    repo.git(['fsck', '--strict'])
  })
})

describe('writeRef', () => {
  it('sets a ref that git reads, replaces it, and leaves no lock behind', async () => {
    const { writeRef } = await import('../../../src/git/refs.js')
    const repo = TestRepo.init()
    try {
      repo.write('a.txt', 'a\n')
      repo.git(['add', '-A'])
      repo.git(['commit', '-q', '-m', 'one'])
      const first = repo.git(['rev-parse', 'HEAD'])
      repo.write('a.txt', 'b\n')
      repo.git(['commit', '-q', '-am', 'two'])
      const second = repo.git(['rev-parse', 'HEAD'])
      const paths = await locateRepository(repo.dir)
      await writeRef(paths, `refs/gitmesh/fetched/${first}`, first)
      expect(repo.git(['rev-parse', `refs/gitmesh/fetched/${first}`])).toBe(first)
      repo.git(['pack-refs', '--all'])
      await writeRef(paths, `refs/gitmesh/fetched/${first}`, second)
      expect(repo.git(['rev-parse', `refs/gitmesh/fetched/${first}`])).toBe(second)
      expect(repo.git(['for-each-ref', '--format=%(refname)', 'refs/gitmesh/'])).toBe(`refs/gitmesh/fetched/${first}`)
      repo.git(['fsck', '--strict'])
      await expect(writeRef(paths, 'refs/gitmesh/../../HEAD', first)).rejects.toThrow('refusing')
    } finally {
      rmSync(repo.dir, { recursive: true, force: true })
    }
  })
})
