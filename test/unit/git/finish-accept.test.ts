import { afterEach, describe, expect, it } from 'vitest'
import { commitChangeOnHead } from '../../../src/git/commit-change.js'
import { finishAccept, headCommitWithTrailer } from '../../../src/git/finish-accept.js'
import { snapshotWorkingTree } from '../../../src/git/snapshot.js'
import { Scratch, type TestRepo } from '../../helpers/git-repo.js'

describe('finishing an accept cut short', () => {
  const scratch = new Scratch()
  afterEach(() => { scratch.cleanup() })

  /** A repository with uncommitted work, a job change S → B (a new file and an edit), and the commit an accept made of it before HEAD moved. */
  async function cutShort (): Promise<{ repo: TestRepo, commit: string, parent: string }> {
    const repo = scratch.repo()
    repo.writeFiles({ 'a.txt': 'a\n', 'mine.txt': 'mine\n' })
    const parent = repo.commit('initial')
    repo.write('mine.txt', 'mine, edited\n')
    const s = (await snapshotWorkingTree(repo.dir)).commit
    repo.write('n.txt', 'job\n')
    repo.write('a.txt', 'a by job\n')
    const b = (await snapshotWorkingTree(repo.dir)).commit
    let made: string | undefined
    const stop = new Error('killed before HEAD moved')
    await expect(commitChangeOnHead(repo.dir, s, b, 'job\n\nGitmesh-Job: job (0123456789ab)\n', { beforeHeadMoves: (commit) => { made = commit; throw stop } })).rejects.toBe(stop)
    return { repo, commit: made!, parent }
  }

  it('says the accept never happened when HEAD did not move, and changes nothing', async () => {
    const { repo, commit, parent } = await cutShort()
    const status = repo.git(['status', '--porcelain'])
    expect(await finishAccept(repo.dir, commit, parent)).toEqual({ committed: false })
    expect(repo.revParse('HEAD')).toBe(parent)
    expect(repo.git(['status', '--porcelain'])).toBe(status)
    expect(await headCommitWithTrailer(repo.dir, 'Gitmesh-Job: job (0123456789ab)')).toBeUndefined()
  })

  it('brings the index along when HEAD moved to the commit, and is idempotent', async () => {
    const { repo, commit, parent } = await cutShort()
    // the kill came after the branch moved, before the new index was renamed into place
    repo.git(['update-ref', 'refs/heads/main', commit, parent])
    expect(repo.git(['diff', '--cached', '--name-only']).split('\n')).toEqual(['a.txt', 'n.txt'])
    expect(await headCommitWithTrailer(repo.dir, 'Gitmesh-Job: job (0123456789ab)')).toEqual({ commit, parent })
    expect(await finishAccept(repo.dir, commit, parent)).toEqual({ committed: true })
    expect(repo.git(['diff', '--cached', '--name-only'])).toBe('')
    expect(repo.git(['status', '--porcelain'])).toBe(' M mine.txt')
    expect(await finishAccept(repo.dir, commit, parent)).toEqual({ committed: true })
    expect(repo.git(['status', '--porcelain'])).toBe(' M mine.txt')
  })

  it('counts a commit the user has committed on top of as done, leaving the index alone', async () => {
    const { repo, commit, parent } = await cutShort()
    repo.git(['update-ref', 'refs/heads/main', commit, parent])
    repo.git(['reset', '-q', '--', 'a.txt', 'n.txt'])
    repo.write('later.txt', 'later\n')
    repo.git(['add', 'later.txt'])
    repo.git(['commit', '-q', '-m', 'later'])
    expect(await finishAccept(repo.dir, commit, parent)).toEqual({ committed: true })
  })
})
