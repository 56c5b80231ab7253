import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WorktreePool, commitWorktree, createWorktree, removeWorktree } from '../../../src/builder/worktree.js'
import { Scratch, git, type TestRepo } from '../../helpers/git-repo.js'
import { waitUntil } from '../../helpers/job-rig.js'

/** A repository with two commits: `first` holds a.txt = 1, `second` a.txt = 2 and b.txt. */
function twoCommits (scratch: Scratch): { repo: TestRepo, first: string, second: string } {
  const repo = scratch.repo()
  repo.write('a.txt', '1\n')
  const first = repo.commit('first')
  repo.writeFiles({ 'a.txt': '2\n', 'b.txt': 'b\n' })
  const second = repo.commit('second')
  return { repo, first, second }
}

function head (dir: string): string {
  return git(dir, ['rev-parse', 'HEAD']).trim()
}

/** Linked worktrees git knows of (the main one excluded). */
function linked (repo: TestRepo): string[] {
  return git(repo.dir, ['worktree', 'list', '--porcelain']).split('\n')
    .filter(line => line.startsWith('worktree ')).map(line => line.slice('worktree '.length))
    .filter(dir => dir !== repo.dir)
}

describe('commitWorktree', () => {
  const scratch = new Scratch()
  afterEach(() => { scratch.cleanup() })

  it('commits the worktree\'s whole tree onto the parent as a commit git fsck --strict accepts, moving no ref', async () => {
    const { repo, first, second } = twoCommits(scratch)
    const dir = path.join(scratch.dir(), 'w')
    await createWorktree(repo.dir, dir, first)
    git(dir, ['rm', '-q', 'a.txt'])
    writeFileSync(path.join(dir, 'c.txt'), 'c\n')
    const identity = { name: 'gitmesh builder', email: 'peer@gitmesh.invalid' }
    const message = 'gitmesh: job\n\ntests passed\n\nGitmesh-Job: j1\n'
    const { commit, tree } = await commitWorktree(dir, path.join(repo.dir, '.git', 'objects'), first, message, identity)
    expect(git(repo.dir, ['ls-tree', '--name-only', commit])).toBe('c.txt')
    expect(git(repo.dir, ['rev-parse', `${commit}^{tree}`])).toBe(tree)
    const body = git(repo.dir, ['cat-file', 'commit', commit])
    expect(body).toMatch(new RegExp(`^tree ${tree}\nparent ${first}\nauthor gitmesh builder <peer@gitmesh\\.invalid> \\d+ \\+0000\ncommitter gitmesh builder <peer@gitmesh\\.invalid> \\d+ \\+0000\n\n${message.trimEnd()}$`))
    expect(head(repo.dir)).toBe(second)
    expect(head(dir)).toBe(first)
    git(repo.dir, ['fsck', '--strict', '--no-progress'])
  })
})

describe('createWorktree', () => {
  const scratch = new Scratch()
  afterEach(() => { scratch.cleanup() })

  // git does not lock its list of worktrees: two concurrent `worktree add` runs in one repository
  // failed now and then ("failed to read .git/worktrees/<name>/commondir"), which made the pool
  // tests below fail once in a full run.
  it('makes and removes many worktrees of one repository at once', async () => {
    const { repo, second } = twoCommits(scratch)
    const root = scratch.dir()
    const dirs = Array.from({ length: 12 }, (_, i) => path.join(root, `w${i}`))
    await Promise.all(dirs.map(async dir => { await createWorktree(repo.dir, dir, second) }))
    for (const dir of dirs) {
      expect(head(dir)).toBe(second)
      expect(git(dir, ['status', '--porcelain'])).toBe('')
    }
    expect(linked(repo).sort()).toEqual([...dirs].sort())
    await Promise.all(dirs.map(async dir => { await removeWorktree(repo.dir, dir) }))
    expect(linked(repo)).toEqual([])
  })
})

describe('WorktreePool', () => {
  const scratch = new Scratch()
  afterEach(() => { scratch.cleanup() })

  it('hands out worktrees made ready ahead at the wanted commit, then makes new ones', async () => {
    const { repo, second } = twoCommits(scratch)
    const root = scratch.dir()
    const pool = new WorktreePool(root, 4)
    pool.prepare([{ repo: repo.dir, commit: second, count: 2 }])
    // Asking again for what is already being made costs nothing more.
    pool.prepare([{ repo: repo.dir, commit: second, count: 2 }])
    const one = await pool.acquire(repo.dir, second, 'job-1')
    const two = await pool.acquire(repo.dir, second, 'job-2')
    const three = await pool.acquire(repo.dir, second, 'job-3')
    expect([one, two].every(dir => path.basename(dir).startsWith('ahead-'))).toBe(true)
    expect(three).toBe(path.join(root, 'job-3'))
    for (const dir of [one, two, three]) {
      expect(head(dir)).toBe(second)
      expect(readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('2\n')
      expect(git(dir, ['status', '--porcelain'])).toBe('')
    }
    expect(linked(repo)).toHaveLength(3)
  })

  it('switches a returned worktree to the commit a waiting job needs', async () => {
    const { repo, first, second } = twoCommits(scratch)
    const pool = new WorktreePool(scratch.dir(), 4)
    const dir = await pool.acquire(repo.dir, second, 'job-1')
    await pool.release(repo.dir, dir, true)
    pool.prepare([{ repo: repo.dir, commit: first, count: 1 }])
    await waitUntil(() => existsSync(path.join(dir, 'b.txt')) === false, 10_000)
    expect(await pool.acquire(repo.dir, first, 'job-2')).toBe(dir)
    expect(head(dir)).toBe(first)
    expect(readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('1\n')
    expect(linked(repo)).toHaveLength(1)
  })

  it('makes no more worktrees ahead than it may keep', async () => {
    const { repo, second } = twoCommits(scratch)
    const root = scratch.dir()
    const pool = new WorktreePool(root, 2)
    pool.prepare([{ repo: repo.dir, commit: second, count: 5 }])
    await pool.acquire(repo.dir, second, 'job-1')
    await pool.acquire(repo.dir, second, 'job-2')
    // only two were made ahead: the third job gets a new one of its own
    expect(await pool.acquire(repo.dir, second, 'job-3')).toBe(path.join(root, 'job-3'))
    expect(linked(repo)).toHaveLength(3)
  })

  it('drops a worktree that could not be made ready and still serves the job', async () => {
    const { repo, second } = twoCommits(scratch)
    const pool = new WorktreePool(scratch.dir(), 2)
    pool.prepare([{ repo: repo.dir, commit: 'f'.repeat(40), count: 1 }])
    const dir = await pool.acquire(repo.dir, second, 'job-1')
    expect(dir.endsWith('job-1')).toBe(true)
    expect(head(dir)).toBe(second)
    expect(linked(repo)).toEqual([dir])
  })

  it('removes every worktree it keeps when drained, waiting for those being made', async () => {
    const { repo, first, second } = twoCommits(scratch)
    const pool = new WorktreePool(scratch.dir(), 4)
    const dir = await pool.acquire(repo.dir, first, 'job-1')
    await pool.release(repo.dir, dir, true)
    pool.prepare([{ repo: repo.dir, commit: second, count: 2 }])
    await pool.drain()
    expect(linked(repo)).toEqual([])
    expect(existsSync(dir)).toBe(false)
  })
})
