import { readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ensureBareRepository, locateObjectStore, locateRepository } from '../../../src/git/repository.js'
import { Scratch, git } from '../../helpers/git-repo.js'

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

describe('ensureBareRepository', () => {
  const scratch = new Scratch()

  afterEach(() => { scratch.cleanup() })

  it('makes one bare repository git accepts, however many callers ask at once', async () => {
    const dir = path.join(scratch.dir(), 'cache', 'r.git')
    await Promise.all(Array.from({ length: 8 }, async () => { await ensureBareRepository(dir) }))
    expect(git(dir, ['rev-parse', '--is-bare-repository']).trim()).toBe('true')
    expect(path.resolve(dir, git(dir, ['rev-parse', '--git-path', 'objects']).trim())).toBe(path.join(dir, 'objects'))
    // Usable: an object written into it is found, and fsck is content.
    const blob = git(dir, ['hash-object', '-w', '--stdin'], { input: 'x\n' }).trim()
    expect(git(dir, ['cat-file', '-p', blob])).toBe('x')
    git(dir, ['fsck', '--no-progress'])
    expect(readdirSync(path.dirname(dir))).toEqual(['r.git'])
  })

  it('leaves an existing repository as it is', async () => {
    const dir = path.join(scratch.dir(), 'existing.git')
    git(scratch.dir(), ['init', '-q', '--bare', dir])
    const blob = git(dir, ['hash-object', '-w', '--stdin'], { input: 'kept\n' }).trim()
    await ensureBareRepository(dir)
    expect(git(dir, ['cat-file', '-p', blob])).toBe('kept')
  })
})
