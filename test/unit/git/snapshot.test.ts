import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { snapshotWorkingTree } from '../../../src/git/snapshot.js'
import { SNAPSHOT_IDENTITY, SNAPSHOT_MESSAGE } from '../../../src/git/constants.js'
import { Scratch, TestRepo, gitSucceeds, testGitEnv } from '../../helpers/git-repo.js'

/**
 * The oracle: `git add -A` + `git write-tree` into a throwaway index in the same repository,
 * started from HEAD's tree (not from a copy of the real index), so every file is hashed afresh.
 */
function oracleTree (repo: TestRepo): string {
  const indexFile = path.join(repo.gitDir, `oracle-index-${process.pid}`)
  const env = testGitEnv({ GIT_INDEX_FILE: indexFile })
  try {
    if (gitSucceeds(repo.dir, ['rev-parse', '--verify', '-q', 'HEAD'])) repo.git(['read-tree', 'HEAD'], { env })
    repo.git(['add', '-A'], { env })
    return repo.git(['write-tree'], { env })
  } finally {
    rmSync(indexFile, { force: true })
  }
}

function readTreeRecursive (dir: string, base = ''): Record<string, string> {
  const out: Record<string, string> = {}
  if (!existsSync(dir)) return out
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const rel = path.join(base, name.name)
    if (name.isDirectory()) Object.assign(out, readTreeRecursive(path.join(dir, name.name), rel))
    else out[rel] = readFileSync(path.join(dir, name.name)).toString('base64')
  }
  return out
}

/** Everything a user could see of the repository, read without letting git refresh the index. */
function userVisibleState (repo: TestRepo): Record<string, unknown> {
  const index = path.join(repo.gitDir, 'index')
  return {
    index: existsSync(index) ? readFileSync(index).toString('base64') : null,
    indexMtime: existsSync(index) ? statSync(index).mtimeMs : null,
    status: repo.gitRaw(['--no-optional-locks', 'status', '--porcelain', '-z', '--untracked-files=all']).toString('base64'),
    headFile: readFileSync(path.join(repo.gitDir, 'HEAD'), 'utf8'),
    head: gitSucceeds(repo.dir, ['rev-parse', '--verify', '-q', 'HEAD']) ? repo.revParse('HEAD') : null,
    refs: repo.git(['for-each-ref']),
    reflogs: readTreeRecursive(path.join(repo.gitDir, 'logs')),
    stash: repo.git(['stash', 'list']),
    worktree: repo.git(['ls-files', '-o', '-c', '--exclude-standard', '-s']),
    // Files git keeps beside the index (shared indexes, locks) must not appear either.
    gitDirEntries: readdirSync(repo.gitDir).sort()
  }
}

/** `git ls-tree -r` of a tree as path → "mode type oid". */
function lsTree (repo: TestRepo, tree: string): Map<string, string> {
  const out = repo.gitRaw(['ls-tree', '-r', '-z', tree]).toString('utf8')
  return new Map(out.split('\0').filter(line => line !== '').map(line => {
    const tab = line.indexOf('\t')
    return [line.slice(tab + 1), line.slice(0, tab)]
  }))
}

describe('snapshotWorkingTree', () => {
  const scratch = new Scratch()

  afterEach(() => { scratch.cleanup() })

  function committedRepo (): TestRepo {
    const repo = scratch.repo()
    repo.writeFiles({
      'a.txt': 'a\n',
      'dir/b.txt': 'b\n',
      'dir/deep/c.txt': 'c\n',
      'gone.txt': 'to be deleted\n',
      '.gitignore': '*.log\nbuild/\n'
    })
    repo.write('run.sh', '#!/bin/sh\necho run\n', { executable: true })
    repo.symlink('link', 'a.txt')
    repo.commit('initial')
    // A tracked file that matches .gitignore stays tracked.
    repo.write('keep.log', 'tracked although ignored\n')
    repo.git(['add', '-f', 'keep.log'])
    repo.commit('track keep.log')
    return repo
  }

  it('captures tracked changes, untracked files, modes, symlinks and deletions, and changes nothing the user sees', async () => {
    const repo = committedRepo()
    const head = repo.revParse('HEAD')
    repo.write('a.txt', 'a staged\n')
    repo.git(['add', 'a.txt'])
    repo.write('a.txt', 'a modified after staging\n')
    repo.write('dir/deep/c.txt', 'c modified\n')
    chmodSync(repo.path('dir/b.txt'), 0o755)
    repo.symlink('link', 'dir/b.txt')
    repo.remove('gone.txt')
    repo.write('keep.log', 'tracked and modified\n')
    repo.write('new.txt', 'untracked\n')
    repo.write('dir/new-dir/n.txt', 'untracked nested\n')
    repo.write('debug.log', 'ignored\n')
    repo.write('build/out.bin', 'ignored dir\n')
    // Let git refresh the real index once, so the comparison below sees only what the snapshot does.
    repo.git(['status', '--porcelain'])

    const before = userVisibleState(repo)
    const snapshot = await snapshotWorkingTree(repo.dir)
    const after = userVisibleState(repo)

    expect(after).toEqual(before)
    expect(snapshot.tree).toBe(oracleTree(repo))
    expect(snapshot.parent).toBe(head)
    expect(repo.objectType(snapshot.commit)).toBe('commit')
    expect(repo.revParse(`${snapshot.commit}^{tree}`)).toBe(snapshot.tree)
    expect(repo.git(['rev-list', '--parents', '-n', '1', snapshot.commit])).toBe(`${snapshot.commit} ${head}`)
    expect(repo.git(['log', '-1', '--format=%an <%ae>|%cn <%ce>', snapshot.commit]))
      .toBe(`${SNAPSHOT_IDENTITY.name} <${SNAPSHOT_IDENTITY.email}>|${SNAPSHOT_IDENTITY.name} <${SNAPSHOT_IDENTITY.email}>`)
    const signature = `${SNAPSHOT_IDENTITY.name} <${SNAPSHOT_IDENTITY.email}> \\d+ \\+0000`
    expect(repo.git(['cat-file', 'commit', snapshot.commit])).toMatch(new RegExp(`^tree ${snapshot.tree}\nparent ${head}\nauthor ${signature}\ncommitter ${signature}\n\n${SNAPSHOT_MESSAGE.trimEnd()}$`))
    repo.git(['fsck', '--strict', '--no-progress'])

    const entries = lsTree(repo, snapshot.tree)
    const blob = (content: string): string => repo.git(['hash-object', '--stdin'], { input: content })
    expect(entries.get('a.txt')).toBe(`100644 blob ${blob('a modified after staging\n')}`)
    expect(entries.get('dir/deep/c.txt')).toBe(`100644 blob ${blob('c modified\n')}`)
    expect(entries.get('dir/b.txt')).toBe(`100755 blob ${blob('b\n')}`)
    expect(entries.get('run.sh')).toBe(`100755 blob ${blob('#!/bin/sh\necho run\n')}`)
    expect(entries.get('link')).toBe(`120000 blob ${blob('dir/b.txt')}`)
    expect(entries.get('keep.log')).toBe(`100644 blob ${blob('tracked and modified\n')}`)
    expect(entries.get('new.txt')).toBe(`100644 blob ${blob('untracked\n')}`)
    expect(entries.get('dir/new-dir/n.txt')).toBe(`100644 blob ${blob('untracked nested\n')}`)
    expect(entries.has('gone.txt')).toBe(false)
    expect(entries.has('debug.log')).toBe(false)
    expect([...entries.keys()].some(name => name.startsWith('build/'))).toBe(false)
    expect(entries.size).toBe(9)
  })

  it('leaves nothing behind in .git when the repository uses a split index', async () => {
    const repo = scratch.repo()
    repo.git(['config', 'core.splitIndex', 'true'])
    repo.writeFiles({ 'a.txt': 'a\n', 'b.txt': 'b\n' })
    repo.commit('initial')
    expect(readdirSync(repo.gitDir).some(name => name.startsWith('sharedindex.'))).toBe(true)
    repo.write('a.txt', 'changed\n')
    repo.write('c.txt', 'new\n')
    repo.git(['status', '--porcelain'])
    const before = userVisibleState(repo)
    const snapshot = await snapshotWorkingTree(repo.dir)
    expect(userVisibleState(repo)).toEqual(before)
    expect(snapshot.tree).toBe(oracleTree(repo))
  })

  it('two snapshots of an unchanged working tree have the same tree', async () => {
    const repo = committedRepo()
    repo.write('new.txt', 'untracked\n')
    repo.write('a.txt', 'changed\n')
    const first = await snapshotWorkingTree(repo.dir)
    const second = await snapshotWorkingTree(repo.dir)
    expect(second.tree).toBe(first.tree)
    expect(second.parent).toBe(first.parent)
    expect(first.tree).toBe(oracleTree(repo))
    expect(first.tree).not.toBe(repo.revParse('HEAD^{tree}'))
  })

  it('sees edits to files marked assume-unchanged or skip-worktree, as the throwaway index does', async () => {
    const repo = committedRepo()
    repo.git(['update-index', '--assume-unchanged', 'a.txt'])
    repo.write('a.txt', 'edited behind an assume-unchanged bit\n')
    const first = await snapshotWorkingTree(repo.dir)
    expect(first.tree).toBe(oracleTree(repo))
    expect(repo.git(['cat-file', '-p', `${first.commit}:a.txt`])).toBe('edited behind an assume-unchanged bit')
    repo.git(['update-index', '--no-assume-unchanged', 'a.txt'])
    repo.git(['update-index', '--skip-worktree', 'a.txt'])
    repo.write('a.txt', 'edited behind a skip-worktree bit\n')
    const second = await snapshotWorkingTree(repo.dir)
    expect(second.tree).toBe(oracleTree(repo))
    expect(repo.git(['cat-file', '-p', `${second.commit}:a.txt`])).toBe('edited behind a skip-worktree bit')
  })

  it('leaves gitmesh\'s own folder out, but for what the index holds there', async () => {
    const repo = committedRepo()
    repo.write('.gitmesh/notes.md', 'committed\n')
    repo.commit('a committed file in .gitmesh')
    repo.write('.gitmesh/notes.md', 'edited, not staged\n')
    repo.write('.gitmesh/prompts/email.md', 'Write a function to validate email addresses\n')
    repo.write('.gitmesh/staged.md', 'staged\n')
    repo.git(['add', '.gitmesh/staged.md'])
    repo.write('a.txt', 'changed\n')
    const snapshot = await snapshotWorkingTree(repo.dir)
    const entries = lsTree(repo, snapshot.tree)
    expect(entries.has('.gitmesh/prompts/email.md')).toBe(false)
    expect(repo.git(['cat-file', '-p', `${snapshot.commit}:.gitmesh/notes.md`])).toBe('committed')
    expect(repo.git(['cat-file', '-p', `${snapshot.commit}:.gitmesh/staged.md`])).toBe('staged')
    expect(repo.git(['cat-file', '-p', `${snapshot.commit}:a.txt`])).toBe('changed')
  })

  it('a clean working tree snapshots to HEAD\'s tree', async () => {
    const repo = committedRepo()
    const snapshot = await snapshotWorkingTree(repo.dir)
    expect(snapshot.tree).toBe(repo.revParse('HEAD^{tree}'))
    expect(snapshot.commit).not.toBe(repo.revParse('HEAD'))
  })

  it('works from a subdirectory and still covers the whole working tree', async () => {
    const repo = committedRepo()
    repo.write('top.txt', 'top level\n')
    const snapshot = await snapshotWorkingTree(repo.path('dir/deep'))
    expect(snapshot.tree).toBe(oracleTree(repo))
    expect(lsTree(repo, snapshot.tree).has('top.txt')).toBe(true)
  })

  it('snapshots a linked worktree against its own HEAD and index', async () => {
    const repo = committedRepo()
    const wtDir = path.join(scratch.dir(), 'wt')
    repo.git(['worktree', 'add', '-q', '-b', 'feature', wtDir])
    const wt = TestRepo.at(wtDir)
    wt.write('a.txt', 'feature work\n')
    const featureHead = wt.commit('feature')
    wt.write('dir/b.txt', 'uncommitted in the worktree\n')
    wt.write('wt-only.txt', 'untracked in the worktree\n')
    wt.git(['status', '--porcelain'])
    repo.git(['status', '--porcelain'])
    const mainBefore = userVisibleState(repo)
    const wtBefore = userVisibleState(wt)

    const snapshot = await snapshotWorkingTree(wtDir)
    expect(snapshot.parent).toBe(featureHead)
    expect(snapshot.tree).toBe(oracleTree(wt))
    expect(lsTree(wt, snapshot.tree).has('wt-only.txt')).toBe(true)
    expect(userVisibleState(wt)).toEqual(wtBefore)
    expect(userVisibleState(repo)).toEqual(mainBefore)
  })

  it('has no parent on an unborn branch and leaves the repository untouched', async () => {
    const repo = scratch.repo()
    repo.writeFiles({ 'a.txt': 'a\n', 'dir/b.txt': 'b\n', '.gitignore': 'ignored\n', ignored: 'x\n' })
    repo.write('run.sh', '#!/bin/sh\n', { executable: true })
    repo.symlink('link', 'dir')
    const before = userVisibleState(repo)
    expect(before.index).toBeNull()
    const snapshot = await snapshotWorkingTree(repo.dir)
    expect(userVisibleState(repo)).toEqual(before)
    expect(snapshot.parent).toBeUndefined()
    expect(repo.git(['rev-list', '--parents', '-n', '1', snapshot.commit])).toBe(snapshot.commit)
    expect(snapshot.tree).toBe(oracleTree(repo))
    expect([...lsTree(repo, snapshot.tree).keys()].sort()).toEqual(['.gitignore', 'a.txt', 'dir/b.txt', 'link', 'run.sh'])
  })

  it('sees a same-size change made in the same second the index was written (racy git)', async () => {
    const repo = committedRepo()
    // ctime is not compared, so only mtime and size tell git whether a file changed.
    repo.git(['config', 'core.trustctime', 'false'])
    const second = new Date('2020-01-01T00:00:00Z')
    repo.write('a.txt', 'AAAA\n')
    utimesSync(repo.path('a.txt'), second, second)
    repo.git(['add', 'a.txt'])
    // The index was written in the same second as the file: git must not trust the stat data...
    utimesSync(path.join(repo.gitDir, 'index'), second, second)
    // ...because the file changes again within that second, keeping its size.
    writeFileSync(repo.path('a.txt'), 'BBBB\n')
    utimesSync(repo.path('a.txt'), second, second)
    expect(repo.git(['--no-optional-locks', 'status', '--porcelain', 'a.txt'])).toBe('MM a.txt')

    const snapshot = await snapshotWorkingTree(repo.dir)
    expect(repo.git(['cat-file', 'blob', `${snapshot.tree}:a.txt`])).toBe('BBBB')
    expect(snapshot.tree).toBe(oracleTree(repo))
  })

  it('works when no user identity is configured anywhere', async () => {
    const home = scratch.dir('gitmesh-home-')
    const saved = { HOME: process.env.HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME, GIT_CONFIG_NOSYSTEM: process.env.GIT_CONFIG_NOSYSTEM }
    process.env.HOME = home
    process.env.XDG_CONFIG_HOME = path.join(home, '.config')
    process.env.GIT_CONFIG_NOSYSTEM = '1'
    try {
      const repo = scratch.repo({ identity: false })
      // Do not let git guess an identity from the host name either.
      repo.git(['config', 'user.useConfigOnly', 'true'])
      repo.write('a.txt', 'a\n')
      const tree = oracleTree(repo)
      // The oracle that the identity really is missing: a plain commit-tree fails here.
      expect(gitSucceeds(repo.dir, ['commit-tree', tree, '-m', 'x'])).toBe(false)

      const snapshot = await snapshotWorkingTree(repo.dir)
      expect(snapshot.tree).toBe(tree)
      expect(repo.git(['log', '-1', '--format=%an <%ae>', snapshot.commit])).toBe(`${SNAPSHOT_IDENTITY.name} <${SNAPSHOT_IDENTITY.email}>`)
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
    }
  })

  it('throws NotARepositoryError outside a repository and for a missing directory', async () => {
    const dir = scratch.dir()
    await expect(snapshotWorkingTree(dir)).rejects.toMatchObject({ name: 'NotARepositoryError' })
    await expect(snapshotWorkingTree(path.join(dir, 'does-not-exist'))).rejects.toMatchObject({ name: 'NotARepositoryError' })
    writeFileSync(path.join(dir, 'file'), 'x')
    await expect(snapshotWorkingTree(path.join(dir, 'file'))).rejects.toMatchObject({ name: 'NotARepositoryError' })
  })

  it('throws BareRepositoryError for a bare repository', async () => {
    const repo = scratch.repo({ bare: true })
    await expect(snapshotWorkingTree(repo.dir)).rejects.toMatchObject({ name: 'BareRepositoryError' })
  })

  it('throws OperationInProgressError in the middle of a conflicting merge, touching nothing', async () => {
    const repo = committedRepo()
    repo.git(['checkout', '-q', '-b', 'other'])
    repo.write('a.txt', 'other side\n')
    repo.commit('other')
    repo.git(['checkout', '-q', 'main'])
    repo.write('a.txt', 'main side\n')
    repo.commit('main')
    expect(gitSucceeds(repo.dir, ['merge', '-q', 'other'])).toBe(false)
    expect(existsSync(path.join(repo.gitDir, 'MERGE_HEAD'))).toBe(true)

    const before = userVisibleState(repo)
    await expect(snapshotWorkingTree(repo.dir)).rejects.toMatchObject({ name: 'OperationInProgressError', operation: 'merge' })
    expect(userVisibleState(repo)).toEqual(before)
    expect(existsSync(path.join(repo.gitDir, 'MERGE_HEAD'))).toBe(true)
  })
})
