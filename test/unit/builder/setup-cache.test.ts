import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { cleanIgnored, ignoredPaths, readSetupMarker, SetupCache, setupKeyHash, writeSetupMarker } from '../../../src/builder/setup-cache.js'
import { SETUP_CACHE_ENTRIES_PER_REPO } from '../../../src/builder/constants.js'
import { testGitEnv } from '../../helpers/git-repo.js'

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8', env: testGitEnv() }).trim()

let root: string
let repo: string

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'gitmesh-setup-cache-'))
  repo = path.join(root, 'repo')
  await mkdir(path.join(repo, 'app'), { recursive: true })
  git(repo, 'init', '-q', '-b', 'main')
  await writeFile(path.join(repo, '.gitignore'), 'node_modules/\n*.log\n')
  await writeFile(path.join(repo, 'lock.json'), '{"v":1}\n')
  await writeFile(path.join(repo, 'app', 'main.js'), 'tracked\n')
  git(repo, 'add', '-A')
  git(repo, 'commit', '-q', '-m', 'c')
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('setupKeyHash', () => {
  it('changes with the command, a key file\'s content, and a key file appearing; not with other files', async () => {
    const base = await setupKeyHash(repo, { command: 'npm ci', key: ['lock.json', 'other.lock'] })
    expect(base).toMatch(/^[0-9a-f]{32}$/)
    expect(await setupKeyHash(repo, { command: 'npm ci', key: ['other.lock', 'lock.json'] })).toBe(base)
    expect(await setupKeyHash(repo, { command: 'npm install', key: ['lock.json', 'other.lock'] })).not.toBe(base)
    await writeFile(path.join(repo, 'app', 'main.js'), 'changed\n')
    expect(await setupKeyHash(repo, { command: 'npm ci', key: ['lock.json', 'other.lock'] })).toBe(base)
    await writeFile(path.join(repo, 'other.lock'), '')
    const withOther = await setupKeyHash(repo, { command: 'npm ci', key: ['lock.json', 'other.lock'] })
    expect(withOther).not.toBe(base)
    await writeFile(path.join(repo, 'lock.json'), '{"v":2}\n')
    expect(await setupKeyHash(repo, { command: 'npm ci', key: ['lock.json', 'other.lock'] })).not.toBe(withOther)
  })

  it('is undefined without key files: such a setup is not cached', async () => {
    expect(await setupKeyHash(repo, { command: 'npm ci', key: [] })).toBeUndefined()
  })
})

describe('the worktree marker and ignored files', () => {
  it('keeps the marker in the git dir, out of the working tree and out of git status', async () => {
    expect(await readSetupMarker(repo)).toBeUndefined()
    await writeSetupMarker(repo, 'abc')
    expect(await readSetupMarker(repo)).toBe('abc')
    expect(existsSync(path.join(repo, '.git', 'gitmesh-setup'))).toBe(true)
    expect(git(repo, 'status', '--porcelain', '--ignored')).toBe('')
    await writeSetupMarker(repo, undefined)
    expect(await readSetupMarker(repo)).toBeUndefined()
  })

  it('stops vouching for a worktree once a path its setup made is gone (an agent ran git clean -fdx)', async () => {
    await mkdir(path.join(repo, 'node_modules'), { recursive: true })
    await writeSetupMarker(repo, 'abc', undefined, ['node_modules'])
    expect(await readSetupMarker(repo)).toBe('abc')
    git(repo, 'clean', '-fdxq')
    expect(await readSetupMarker(repo)).toBeUndefined()
  })

  it('lists ignored paths (a folder once, nested ones at their place) and cleans them, leaving tracked and untracked files', async () => {
    await mkdir(path.join(repo, 'node_modules', 'a'), { recursive: true })
    await writeFile(path.join(repo, 'node_modules', 'a', 'index.js'), 'a\n')
    await mkdir(path.join(repo, 'app', 'node_modules', 'b'), { recursive: true })
    await writeFile(path.join(repo, 'app', 'node_modules', 'b', 'index.js'), 'b\n')
    await writeFile(path.join(repo, 'debug.log'), 'log\n')
    await writeFile(path.join(repo, 'untracked.txt'), 'mine\n')
    expect((await ignoredPaths(repo)).sort()).toEqual(['app/node_modules', 'debug.log', 'node_modules'])
    await cleanIgnored(repo)
    expect(await ignoredPaths(repo)).toEqual([])
    expect(readFileSync(path.join(repo, 'app', 'main.js'), 'utf8')).toBe('tracked\n')
    expect(readFileSync(path.join(repo, 'untracked.txt'), 'utf8')).toBe('mine\n')
  })
})

describe('SetupCache', () => {
  it('captures ignored paths at their places and restores them as copies (not links) into another worktree, never touching tracked files', async () => {
    const cache = new SetupCache(path.join(root, 'cache'))
    await mkdir(path.join(repo, 'node_modules', 'a'), { recursive: true })
    await writeFile(path.join(repo, 'node_modules', 'a', 'index.js'), 'a\n')
    await mkdir(path.join(repo, 'app', 'node_modules'), { recursive: true })
    await writeFile(path.join(repo, 'app', 'node_modules', 'b.js'), 'b\n')
    await cache.capture('author', 'repo', 'k1', repo, await ignoredPaths(repo))
    expect(await cache.restore('author', 'repo', 'nope', repo)).toBeUndefined()

    const other = path.join(root, 'other')
    git(repo, 'worktree', 'add', '-q', '--detach', other)
    await writeFile(path.join(other, 'app', 'main.js'), 'edited in the other worktree\n')
    expect((await cache.restore('author', 'repo', 'k1', other))?.sort()).toEqual(['app/node_modules', 'node_modules'])
    expect(readFileSync(path.join(other, 'node_modules', 'a', 'index.js'), 'utf8')).toBe('a\n')
    expect(readFileSync(path.join(other, 'app', 'node_modules', 'b.js'), 'utf8')).toBe('b\n')
    expect(readFileSync(path.join(other, 'app', 'main.js'), 'utf8')).toBe('edited in the other worktree\n')
    // a copy: editing it in place leaves the cache (and the next restore) alone
    expect(statSync(path.join(other, 'node_modules', 'a', 'index.js')).nlink).toBe(1)
    await writeFile(path.join(other, 'node_modules', 'a', 'index.js'), 'patched by an agent\n')
    const third = path.join(root, 'third')
    git(repo, 'worktree', 'add', '-q', '--detach', third)
    expect(await cache.restore('author', 'repo', 'k1', third)).toBeDefined()
    expect(readFileSync(path.join(third, 'node_modules', 'a', 'index.js'), 'utf8')).toBe('a\n')
  })

  it(`keeps at most ${SETUP_CACHE_ENTRIES_PER_REPO} keys per repository, dropping the least recently used`, async () => {
    const cache = new SetupCache(path.join(root, 'cache'))
    await mkdir(path.join(repo, 'node_modules'), { recursive: true })
    const keys = Array.from({ length: SETUP_CACHE_ENTRIES_PER_REPO + 1 }, (_, i) => `k${i}`)
    for (const key of keys) {
      await writeFile(path.join(repo, 'node_modules', 'which.txt'), key)
      await cache.capture('author', 'repo', key, repo, ['node_modules'])
      if (key === 'k1') {
        // k0 and k1 were used a while ago (mtimes set, not waited for); a restore makes k0 recent
        const entry = (name: string): string => path.join(root, 'cache', 'author', 'repo', name)
        await utimes(entry('k0'), new Date(Date.now() - 3000), new Date(Date.now() - 3000))
        await utimes(entry('k1'), new Date(Date.now() - 2000), new Date(Date.now() - 2000))
        expect(await cache.restore('author', 'repo', 'k0', repo)).toEqual(['node_modules'])
      }
    }
    const left = readdirSync(path.join(root, 'cache', 'author', 'repo')).sort()
    expect(left).toEqual(['k0', 'k2', 'k3'])
  })
})
