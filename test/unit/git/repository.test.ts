import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { locateObjectStore, locateRepository } from '../../../src/git/repository.js'
import { Scratch } from '../../helpers/git-repo.js'

describe('locateRepository and locateObjectStore', () => {
  const scratch = new Scratch()

  afterEach(() => { scratch.cleanup() })

  it('finds the top level from a subdirectory', async () => {
    const repo = scratch.repo()
    repo.write('a/b/c.txt', 'c\n')
    repo.commit('c')
    const paths = await locateRepository(repo.path('a/b'))
    expect(paths).toEqual({
      workTree: repo.dir,
      gitDir: path.join(repo.dir, '.git'),
      commonDir: path.join(repo.dir, '.git'),
      objectDir: path.join(repo.dir, '.git', 'objects')
    })
    expect(await locateObjectStore(repo.path('a/b'))).toEqual({
      gitDir: path.join(repo.dir, '.git'),
      commonDir: path.join(repo.dir, '.git'),
      objectDir: path.join(repo.dir, '.git', 'objects')
    })
  })

  it('tells a linked worktree\'s own git dir from the common one', async () => {
    const repo = scratch.repo()
    repo.write('a.txt', 'a\n')
    repo.commit('a')
    const wt = path.join(scratch.dir(), 'wt')
    repo.git(['worktree', 'add', '-q', '-b', 'side', wt])
    const paths = await locateRepository(wt)
    expect(paths.workTree).toBe(wt)
    expect(paths.gitDir).toBe(path.join(repo.dir, '.git', 'worktrees', 'wt'))
    expect(paths.commonDir).toBe(path.join(repo.dir, '.git'))
    expect(paths.objectDir).toBe(path.join(repo.dir, '.git', 'objects'))
  })

  it('refuses a bare repository for a working tree but accepts it as an object store', async () => {
    const bare = scratch.repo({ bare: true })
    await expect(locateRepository(bare.dir)).rejects.toMatchObject({ name: 'BareRepositoryError' })
    expect(await locateObjectStore(bare.dir)).toEqual({ gitDir: bare.dir, commonDir: bare.dir, objectDir: path.join(bare.dir, 'objects') })
  })

  it('says NotARepositoryError for a plain directory, a file and a missing path', async () => {
    const dir = scratch.dir()
    writeFileSync(path.join(dir, 'file'), 'x')
    for (const target of [dir, path.join(dir, 'file'), path.join(dir, 'missing')]) {
      await expect(locateRepository(target)).rejects.toMatchObject({ name: 'NotARepositoryError' })
    }
    await expect(locateObjectStore(dir)).rejects.toMatchObject({ name: 'NotARepositoryError' })
  })
})
