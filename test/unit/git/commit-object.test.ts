import { afterEach, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import path from 'node:path'
import { TestRepo, testGitEnv } from '../../helpers/git-repo.js'
import { writeCommitObject } from '../../../src/git/commit-object.js'

describe('writeCommitObject (git commit-tree is the oracle)', () => {
  const repos: TestRepo[] = []
  const fresh = (): TestRepo => { const repo = TestRepo.init(); repos.push(repo); return repo }
  afterEach(() => { for (const repo of repos.splice(0)) rmSync(repo.dir, { recursive: true, force: true }) })

  it('writes the same commit, byte for byte, as git commit-tree with the same identity, time and message', async () => {
    const repo = fresh()
    repo.write('a.txt', 'a\n')
    const first = repo.commit('first')
    repo.write('a.txt', 'b\n')
    const second = repo.commit('second')
    const tree = repo.revParse('HEAD^{tree}')
    const identity = { name: 'gitmesh builder', email: '12D3KooW@gitmesh.invalid' }
    const timestamp = 1_790_000_000
    const env = testGitEnv({
      GIT_AUTHOR_NAME: identity.name, GIT_AUTHOR_EMAIL: identity.email, GIT_AUTHOR_DATE: `${timestamp} +0000`,
      GIT_COMMITTER_NAME: identity.name, GIT_COMMITTER_EMAIL: identity.email, GIT_COMMITTER_DATE: `${timestamp} +0000`
    })
    const objectDir = path.join(repo.dir, '.git', 'objects')
    const message = 'gitmesh: a job\n\ntests passed on attempt 1 of 3\n\nGitmesh-Job: j1\n'
    for (const parents of [[], [second], [first, second]]) {
      const ours = await writeCommitObject(objectDir, { tree, parents, identity, message, timestamp })
      const parentArgs = parents.flatMap(parent => ['-p', parent])
      const theirs = repo.git(['commit-tree', tree, ...parentArgs, '-F', '-'], { env, input: message })
      expect(ours).toBe(theirs)
    }
    expect(repo.git(['cat-file', 'commit', await writeCommitObject(objectDir, { tree, parents: [second], identity, message: 'no newline', timestamp })]))
      .toBe(`tree ${tree}\nparent ${second}\nauthor ${identity.name} <${identity.email}> ${timestamp} +0000\ncommitter ${identity.name} <${identity.email}> ${timestamp} +0000\n\nno newline`)
    repo.git(['fsck', '--strict', '--no-progress'])
  })

  it('writes into the repository\'s object database, and refuses a folder that is not one', async () => {
    const repo = fresh()
    repo.write('a.txt', 'a\n')
    const head = repo.commit('first')
    const objectDir = path.join(repo.dir, '.git', 'objects')
    const commit = await writeCommitObject(objectDir, { tree: repo.revParse('HEAD^{tree}'), parents: [head], identity: { name: 'n', email: 'e@x' }, message: 'm\n' })
    expect(repo.objectType(commit)).toBe('commit')
    await expect(writeCommitObject(path.join(repo.dir, '.git'), { tree: repo.revParse('HEAD^{tree}'), parents: [], identity: { name: 'n', email: 'e@x' }, message: 'm\n' }))
      .rejects.toThrow(/objects folder/)
  })
})
