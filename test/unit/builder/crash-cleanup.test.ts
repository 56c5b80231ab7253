import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanCacheRepos } from '../../../src/builder/crash-cleanup.js'
import { createWorktree } from '../../../src/builder/worktree.js'
import { Scratch, git } from '../../helpers/git-repo.js'

describe('cleanCacheRepos', () => {
  const scratch = new Scratch()
  afterEach(() => { scratch.cleanup() })

  it('forgets worktrees whose folders a crash left removed and drops half-written objects, keeping every real object', async () => {
    // A cache repository where the builder keeps it: <repos>/<author>/<key>.git
    const source = scratch.repo()
    source.write('a.txt', 'a\n')
    const commit = source.commit('one')
    const root = scratch.dir()
    const repo = path.join(root, 'repos', 'author-peer', 'key.git')
    mkdirSync(path.dirname(repo), { recursive: true })
    git(root, ['clone', '-q', '--bare', source.dir, repo])
    const dir = path.join(root, 'worktrees', 'job-r1')
    await createWorktree(repo, dir, commit)
    // What a kill -9 during `git add -A` leaves: the lock, and a loose object half written.
    writeFileSync(path.join(repo, 'worktrees', 'job-r1', 'index.lock'), '')
    mkdirSync(path.join(repo, 'objects', 'ab'), { recursive: true })
    writeFileSync(path.join(repo, 'objects', 'ab', 'tmp_obj_XyZ123'), 'half')
    writeFileSync(path.join(repo, 'objects', 'pack', 'tmp_pack_AbC'), 'half')
    // A loose object that is not referenced (like a result commit) must survive.
    const loose = git(repo, ['hash-object', '-w', '--stdin'], { input: 'unreferenced\n' })
    // The builder removes the worktree folders at start; git still lists the worktree.
    rmSync(dir, { recursive: true, force: true })
    expect(git(repo, ['worktree', 'list', '--porcelain'])).toContain('prunable')

    await cleanCacheRepos(path.join(root, 'repos'))
    expect(git(repo, ['worktree', 'list', '--porcelain'])).not.toContain('prunable')
    expect(git(repo, ['count-objects', '-v'])).toMatch(/^garbage: 0$/m)
    expect(existsSync(path.join(repo, 'objects', 'ab', 'tmp_obj_XyZ123'))).toBe(false)
    expect(git(repo, ['cat-file', '-t', loose])).toBe('blob')
  })

  it('does nothing when the builder has no repositories yet', async () => {
    await expect(cleanCacheRepos(path.join(scratch.dir(), 'repos'))).resolves.toBeUndefined()
  })
})
