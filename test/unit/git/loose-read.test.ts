import { afterEach, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { TestRepo } from '../../helpers/git-repo.js'
import { looseObjectType } from '../../../src/git/loose-read.js'
import { locateRepository } from '../../../src/git/repository.js'
import { ObjectStore } from '../../../src/git/object-store.js'

describe('one-off reads of loose objects (git cat-file is the oracle)', () => {
  const repos: TestRepo[] = []
  const fresh = (): TestRepo => { const repo = TestRepo.init(); repos.push(repo); return repo }
  afterEach(() => { for (const repo of repos.splice(0)) rmSync(repo.dir, { recursive: true, force: true }) })

  it('reads the type of a loose object in-process, and leaves packed and missing ones to git', async () => {
    const repo = fresh()
    repo.write('a.txt', 'a\n')
    const first = repo.commit('first')
    repo.git(['tag', '-a', '-m', 'v1', 'v1'])
    const tag = repo.revParse('v1')
    const { commonDir } = await locateRepository(repo.dir)
    const objects = [first, repo.revParse('HEAD^{tree}'), repo.revParse('HEAD:a.txt'), tag]
    for (const oid of objects) expect(await looseObjectType(commonDir, oid)).toBe(repo.objectType(oid))
    expect(await looseObjectType(commonDir, 'e'.repeat(40))).toBeUndefined()

    const store = await ObjectStore.open(repo.dir)
    try {
      expect(await store.resolveCommit(first)).toBe(first)
      expect(await store.resolveCommit(tag)).toBe(first) // peeled by git, as before
      repo.git(['gc', '-q'])
      for (const oid of objects) expect(await looseObjectType(commonDir, oid)).toBeUndefined()
      expect(await store.resolveCommit(first)).toBe(first)
      expect(await store.resolveCommit(repo.revParse('HEAD^{tree}'))).toBeUndefined()
      expect(await store.resolveCommit('e'.repeat(40))).toBeUndefined()
    } finally {
      store.close()
    }
  })
})
