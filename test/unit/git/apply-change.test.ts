import { chmodSync, cpSync, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { changedPaths, commitChangeOnHead, mergeChangeIntoWorkingTree, restorePaths, type MergeOutcome } from '../../../src/git/apply-change.js'
import { snapshotWorkingTree } from '../../../src/git/snapshot.js'
import { Scratch, TestRepo, gitSucceeds, testGitEnv } from '../../helpers/git-repo.js'

const LINES = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`)
const text = (lines: string[]): string => lines.join('\n') + '\n'
const withLine = (n: number, value: string, lines = LINES): string[] => lines.map((line, i) => i === n - 1 ? value : line)
const BINARY = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3, 0, 4])

type JobFile = string | Buffer | null | { content: string | Buffer, executable?: boolean } | { symlink: string }

/** Makes the builder's commit B (parent S): S's tree with `files` written (null removes), like a builder would. */
function jobCommit (repo: TestRepo, s: string, files: Record<string, JobFile>): string {
  const env = testGitEnv({ GIT_INDEX_FILE: path.join(repo.gitDir, `job-index-${process.pid}`) })
  try {
    repo.git(['read-tree', s], { env })
    for (const [file, value] of Object.entries(files)) {
      if (value === null) {
        repo.git(['update-index', '--force-remove', '--', file], { env })
        continue
      }
      const [mode, content] = typeof value === 'string' || Buffer.isBuffer(value)
        ? ['100644', value]
        : 'symlink' in value ? ['120000', value.symlink] : [value.executable === true ? '100755' : '100644', value.content]
      const oid = repo.git(['hash-object', '-w', '--stdin'], { input: content })
      repo.git(['update-index', '--add', '--cacheinfo', `${mode},${oid},${file}`], { env })
    }
    const tree = repo.git(['write-tree'], { env })
    return repo.git(['commit-tree', tree, '-p', s, '-m', 'job'])
  } finally {
    rmSync(env.GIT_INDEX_FILE!, { force: true })
  }
}

/** Every file, symlink and folder of the working tree (not .git): kind, mode and bytes. */
function manifest (dir: string, base = ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of readdirSync(path.join(dir, base)).sort()) {
    if (base === '' && name === '.git') continue
    const rel = base === '' ? name : `${base}/${name}`
    const info = lstatSync(path.join(dir, rel))
    if (info.isSymbolicLink()) out[rel] = `link ${readlinkSync(path.join(dir, rel))}`
    else if (info.isDirectory()) Object.assign(out, { [rel]: 'dir' }, manifest(dir, rel))
    else out[rel] = `file ${(info.mode & 0o777).toString(8)} ${readFileSync(path.join(dir, rel)).toString('base64')}`
  }
  return out
}

interface Saved {
  manifest: Record<string, string>
  copy: string
  status: string
  index: string
}

describe('apply-change', () => {
  const scratch = new Scratch()
  afterEach(() => { scratch.cleanup() })

  function baseRepo (): TestRepo {
    const repo = scratch.repo()
    repo.git(['config', 'merge.conflictStyle', 'merge'])
    repo.writeFiles({ 'a.txt': text(LINES), 'b.txt': 'b\n', 'c.txt': 'c\n', 'dir/d.txt': 'd\n', 'solo/only.txt': 'only\n', '.gitignore': '*.log\n' })
    repo.write('run.sh', '#!/bin/sh\necho run\n', { executable: true })
    repo.write('img.bin', BINARY)
    repo.symlink('link', 'a.txt')
    repo.commit('initial')
    return repo
  }

  async function snapshot (repo: TestRepo): Promise<string> {
    return (await snapshotWorkingTree(repo.dir)).commit
  }

  function status (repo: TestRepo): string {
    return repo.git(['--no-optional-locks', 'status', '--porcelain', '--untracked-files=all'])
  }

  function save (repo: TestRepo): Saved {
    const copy = scratch.dir('gitmesh-copy-')
    cpSync(repo.dir, copy, { recursive: true, verbatimSymlinks: true, filter: (src) => src !== path.join(repo.dir, '.git') })
    return { manifest: manifest(repo.dir), copy, status: status(repo), index: readFileSync(path.join(repo.gitDir, 'index')).toString('base64') }
  }

  function indexBytes (repo: TestRepo): string {
    return readFileSync(path.join(repo.gitDir, 'index')).toString('base64')
  }

  /** restorePaths brings back the saved working tree byte for byte; the index is never touched. */
  async function expectRestored (repo: TestRepo, saved: Saved, outcome: MergeOutcome): Promise<void> {
    expect(indexBytes(repo)).toBe(saved.index)
    await restorePaths(repo.dir, outcome.w0, outcome.paths)
    expect(manifest(repo.dir)).toEqual(saved.manifest)
    const after = scratch.dir('gitmesh-copy-')
    cpSync(repo.dir, after, { recursive: true, verbatimSymlinks: true, filter: (src) => src !== path.join(repo.dir, '.git') })
    expect(gitSucceeds(after, ['diff', '--no-index', '--exit-code', saved.copy, after])).toBe(true)
    expect(status(repo)).toBe(saved.status)
    expect(indexBytes(repo)).toBe(saved.index)
  }

  describe('changedPaths', () => {
    it('lists additions, modifications, deletions, type and mode changes, and a rename as delete + add', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': 'new\n', 'n.txt': 'n\n', 'b.txt': null, 'run.sh': { content: '#!/bin/sh\necho run\n' }, link: 'plain\n', 'c.txt': null, 'moved/c.txt': 'c\n' })
      const changes = await changedPaths(repo.dir, s, b)
      expect(changes.map(c => `${c.status} ${c.path} ${c.oldMode ?? '-'} ${c.newMode ?? '-'}`)).toEqual([
        'modified a.txt 100644 100644',
        'deleted b.txt 100644 -',
        'deleted c.txt 100644 -',
        'modified link 120000 100644',
        'added moved/c.txt - 100644',
        'added n.txt - 100644',
        'modified run.sh 100755 100644'
      ])
      const a = changes[0]!
      expect(a.oldOid).toBe(repo.revParse(`${s}:a.txt`))
      expect(a.newOid).toBe(repo.revParse(`${b}:a.txt`))
      expect(changes[1]!.newOid).toBeUndefined()
    })
  })

  describe('mergeChangeIntoWorkingTree', () => {
    it('applies a change cleanly when the user changed nothing, and restores it', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': text(withLine(10, 'job')), 'new/deep/e.txt': 'e\n', 'b.txt': null, 'run.sh': { content: '#!/bin/sh\necho run\n' } })
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome).toMatchObject({ clean: true, conflicts: [], paths: ['a.txt', 'b.txt', 'new/deep/e.txt', 'run.sh'] })
      expect(repo.revParse(`${outcome.w0}^{tree}`)).toBe(repo.revParse(`${s}^{tree}`))
      // git's own view of the working tree is now B's tree.
      expect((await snapshotWorkingTree(repo.dir)).tree).toBe(repo.revParse(`${b}^{tree}`))
      expect(lstatSync(repo.path('run.sh')).mode & 0o111).toBe(0)
      await expectRestored(repo, saved, outcome)
    })

    it('keeps the user\'s edits to other files', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': text(withLine(10, 'job')) })
      repo.write('c.txt', 'user edit\n')
      repo.write('u.txt', 'untracked\n')
      repo.git(['add', 'b.txt'])
      repo.write('b.txt', 'b unstaged\n')
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome).toMatchObject({ clean: true, paths: ['a.txt'] })
      expect(readFileSync(repo.path('a.txt'), 'utf8')).toBe(text(withLine(10, 'job')))
      expect(readFileSync(repo.path('c.txt'), 'utf8')).toBe('user edit\n')
      expect(readFileSync(repo.path('u.txt'), 'utf8')).toBe('untracked\n')
      expect(readFileSync(repo.path('b.txt'), 'utf8')).toBe('b unstaged\n')
      await expectRestored(repo, saved, outcome)
    })

    it('merges a user edit in the same file when the edits do not overlap', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': text(withLine(10, 'job')) })
      repo.write('a.txt', text(withLine(1, 'user')))
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome).toMatchObject({ clean: true, paths: ['a.txt'] })
      expect(readFileSync(repo.path('a.txt'), 'utf8')).toBe(text(withLine(10, 'job', withLine(1, 'user'))))
      await expectRestored(repo, saved, outcome)
    })

    it('writes standard conflict markers for overlapping edits and lists the file', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': text(withLine(5, 'job five')), 'c.txt': 'c by job\n' })
      repo.write('a.txt', text(withLine(5, 'user five')))
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome.clean).toBe(false)
      expect(outcome.conflicts).toEqual([{ path: 'a.txt', reason: 'content' }])
      expect(outcome.paths).toEqual(['a.txt', 'c.txt'])
      expect(readFileSync(repo.path('a.txt'), 'utf8')).toBe(text([
        ...LINES.slice(0, 4), '<<<<<<< working-tree', 'user five', '=======', 'job five', '>>>>>>> job', ...LINES.slice(5)
      ]))
      await expectRestored(repo, saved, outcome)
    })

    it('adds files: absent ones written, identical ones left, different ones merged with markers', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'n1.txt': 'one\n', 'n2.txt': 'two\n', 'n3.txt': 'job three\n' })
      repo.write('n2.txt', 'two\n')
      repo.write('n3.txt', 'user three\n')
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome.paths).toEqual(['n1.txt', 'n3.txt'])
      expect(outcome.conflicts).toEqual([{ path: 'n3.txt', reason: 'content' }])
      expect(readFileSync(repo.path('n1.txt'), 'utf8')).toBe('one\n')
      expect(readFileSync(repo.path('n3.txt'), 'utf8')).toBe('<<<<<<< working-tree\nuser three\n=======\njob three\n>>>>>>> job\n')
      await expectRestored(repo, saved, outcome)
    })

    it('deletes files: unchanged ones removed (with an emptied folder), missing ones left, edited ones kept and listed', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'b.txt': null, 'c.txt': null, 'dir/d.txt': null, 'solo/only.txt': null })
      repo.remove('c.txt')
      repo.write('dir/d.txt', 'user d\n')
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome.paths).toEqual(['b.txt', 'solo/only.txt'])
      expect(outcome.conflicts).toEqual([{ path: 'dir/d.txt', reason: 'modified-by-user' }])
      expect(existsSync(repo.path('b.txt'))).toBe(false)
      expect(existsSync(repo.path('solo'))).toBe(false)
      expect(readFileSync(repo.path('dir/d.txt'), 'utf8')).toBe('user d\n')
      await expectRestored(repo, saved, outcome)
    })

    it('leaves a file the user deleted deleted when the job changed it, and lists it', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': text(withLine(10, 'job')) })
      repo.remove('a.txt')
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome).toMatchObject({ clean: false, paths: [], conflicts: [{ path: 'a.txt', reason: 'deleted-by-user' }] })
      expect(existsSync(repo.path('a.txt'))).toBe(false)
      await expectRestored(repo, saved, outcome)
    })

    it('applies mode changes, symlinks and file-to-symlink changes', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, {
        'b.txt': { content: 'b\n', executable: true },
        link: { symlink: 'b.txt' },
        'link2': { symlink: 'dir' },
        'c.txt': { symlink: 'dir/d.txt' }
      })
      // The user's own edit to a file whose mode the job changes is kept, with the new mode.
      repo.write('run.sh', '#!/bin/sh\necho user\n', { executable: true })
      const b2 = jobCommit(repo, b, { 'run.sh': { content: '#!/bin/sh\necho run\n' } })
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b2)
      expect(outcome).toMatchObject({ clean: true, paths: ['b.txt', 'c.txt', 'link', 'link2', 'run.sh'] })
      expect(lstatSync(repo.path('b.txt')).mode & 0o777).toBe(0o755)
      expect(readlinkSync(repo.path('link'))).toBe('b.txt')
      expect(readlinkSync(repo.path('link2'))).toBe('dir')
      expect(readlinkSync(repo.path('c.txt'))).toBe('dir/d.txt')
      expect(readFileSync(repo.path('run.sh'), 'utf8')).toBe('#!/bin/sh\necho user\n')
      expect(lstatSync(repo.path('run.sh')).mode & 0o111).toBe(0)
      await expectRestored(repo, saved, outcome)
    })

    it('keeps the user\'s version of a binary conflict and writes the job\'s beside it', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const jobBytes = Buffer.concat([BINARY, Buffer.from('job')])
      const b = jobCommit(repo, s, { 'img.bin': jobBytes })
      const userBytes = Buffer.concat([BINARY, Buffer.from('user')])
      repo.write('img.bin', userBytes)
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome.conflicts).toEqual([{ path: 'img.bin', reason: 'unmergeable', jobCopy: 'img.bin.gitmesh-job' }])
      expect(outcome.paths).toEqual(['img.bin.gitmesh-job'])
      expect(readFileSync(repo.path('img.bin'))).toEqual(userBytes)
      expect(readFileSync(repo.path('img.bin.gitmesh-job'))).toEqual(jobBytes)
      await expectRestored(repo, saved, outcome)
    })

    it('replaces a file by a folder, and restores the file', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'c.txt': null, 'c.txt/inner.txt': 'inner\n' })
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome).toMatchObject({ clean: true, paths: ['c.txt', 'c.txt/inner.txt'] })
      expect(readFileSync(repo.path('c.txt/inner.txt'), 'utf8')).toBe('inner\n')
      await expectRestored(repo, saved, outcome)
    })

    it('never touches an ignored file in the way (W0 could not restore it)', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'build.log': 'job log\n', 'a.txt': text(withLine(10, 'job')) })
      repo.write('build.log', 'precious local log\n')
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      expect(outcome).toMatchObject({ paths: ['a.txt'], conflicts: [{ path: 'build.log', reason: 'not-in-snapshot' }] })
      expect(readFileSync(repo.path('build.log'), 'utf8')).toBe('precious local log\n')
      await expectRestored(repo, saved, outcome)
    })

    it('refuses a change with an unsafe path before touching anything', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const blob = repo.git(['hash-object', '-w', '--stdin'], { input: 'x\n' })
      const inner = repo.git(['mktree'], { input: `100644 blob ${blob}\tconfig\n` })
      const top = repo.git(['ls-tree', `${s}^{tree}`]) + `\n040000 tree ${inner}\t.GIT\n`
      const b = repo.git(['commit-tree', repo.git(['mktree'], { input: top }), '-p', s, '-m', 'evil'])
      const saved = save(repo)
      await expect(mergeChangeIntoWorkingTree(repo.dir, s, b)).rejects.toMatchObject({ name: 'UnsafePathError' })
      expect(manifest(repo.dir)).toEqual(saved.manifest)
      expect(indexBytes(repo)).toBe(saved.index)
    })
  })

  describe('restorePaths', () => {
    it('puts back edits made after the merge too, and returns a snapshot of what it replaced', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': text(withLine(10, 'job')), 'n.txt': 'n\n' })
      const saved = save(repo)
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      repo.write('a.txt', 'edited after the merge\n', { executable: true })
      const { before } = await restorePaths(repo.dir, outcome.w0, outcome.paths)
      expect(manifest(repo.dir)).toEqual(saved.manifest)
      expect(repo.git(['show', `${before}:a.txt`])).toBe('edited after the merge')
    })

    it('restores what it can and reports a path something new is in the way of', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'solo/only.txt': null, 'b.txt': 'b by job\n' })
      const outcome = await mergeChangeIntoWorkingTree(repo.dir, s, b)
      repo.write('solo', 'a file the user made after the merge\n')
      await expect(restorePaths(repo.dir, outcome.w0, outcome.paths)).rejects.toMatchObject({
        name: 'RestoreIncompleteError', problems: [{ path: 'solo/only.txt', reason: 'solo is not a folder' }]
      })
      expect(readFileSync(repo.path('b.txt'), 'utf8')).toBe('b\n')
      expect(readFileSync(repo.path('solo'), 'utf8')).toBe('a file the user made after the merge\n')
    })
  })

  describe('commitChangeOnHead', () => {
    /** A user with staged, unstaged and untracked work, an edit in a file the job changes, and the job merged into the working tree. */
    async function reviewedRepo (): Promise<{ repo: TestRepo, s: string, b: string, head: string }> {
      const repo = baseRepo()
      repo.write('c.txt', 'c staged\n')
      repo.git(['add', 'c.txt'])
      repo.write('dir/d.txt', 'd unstaged\n')
      repo.write('u.txt', 'untracked\n')
      repo.write('a.txt', text(withLine(1, 'user')))
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': text(withLine(10, 'job', withLine(1, 'user'))), 'b.txt': 'b by job\n', 'n.txt': 'new\n' })
      expect((await mergeChangeIntoWorkingTree(repo.dir, s, b)).clean).toBe(true)
      return { repo, s, b, head: repo.revParse('HEAD') }
    }

    it('commits exactly the job\'s change on HEAD and leaves the user\'s work uncommitted', async () => {
      const { repo, s, b, head } = await reviewedRepo()
      const { commit, parent, paths } = await commitChangeOnHead(repo.dir, s, b, 'job: change things\n\nBuilder: test')
      expect(parent).toBe(head)
      expect(paths).toEqual(['a.txt', 'b.txt', 'n.txt'])
      expect(repo.revParse('main')).toBe(commit)
      expect(repo.git(['symbolic-ref', 'HEAD'])).toBe('refs/heads/main')
      expect(repo.git(['rev-list', '--parents', '-n', '1', commit])).toBe(`${commit} ${head}`)
      expect(repo.git(['show', '--format=', '--name-only', commit]).split('\n')).toEqual(['a.txt', 'b.txt', 'n.txt'])
      expect(repo.git(['show', '--stat', '--format=', commit])).toMatch(/a\.txt \| 2 \+-\n b\.txt \| 2 \+-\n n\.txt \| 1 \+\n 3 files changed/)
      // The tree is HEAD's plus exactly the change: the user's line 1 in a.txt is not in it.
      expect(repo.git(['show', `${commit}:a.txt`]) + '\n').toBe(text(withLine(10, 'job')))
      expect(repo.revParse(`${commit}:b.txt`)).toBe(repo.revParse(`${b}:b.txt`))
      expect(repo.revParse(`${commit}:n.txt`)).toBe(repo.revParse(`${b}:n.txt`))
      expect(repo.git(['diff-tree', '-r', '--name-only', head, commit]).split('\n')).toEqual(['a.txt', 'b.txt', 'n.txt'])
      expect(status(repo).split('\n')).toEqual([' M a.txt', 'M  c.txt', ' M dir/d.txt', '?? u.txt'])
      expect(repo.git(['diff', 'a.txt'])).toContain('-line 1\n+user')
      expect(repo.git(['diff', 'a.txt'])).not.toContain('job')
      expect(repo.git(['reflog', '-1', '--format=%gs', 'HEAD'])).toBe('commit (gitmesh): job: change things')
      expect(gitSucceeds(repo.dir, ['fsck', '--strict', '--no-dangling'])).toBe(true)
    })

    it('keeps a staged edit staged when the job changes the same file', async () => {
      const repo = baseRepo()
      repo.write('a.txt', text(withLine(1, 'user')))
      repo.git(['add', 'a.txt'])
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': text(withLine(10, 'job', withLine(1, 'user'))) })
      await mergeChangeIntoWorkingTree(repo.dir, s, b)
      const { commit } = await commitChangeOnHead(repo.dir, s, b, 'job')
      expect(repo.git(['show', `${commit}:a.txt`]) + '\n').toBe(text(withLine(10, 'job')))
      expect(status(repo)).toBe('M  a.txt')
      expect(repo.git(['diff', '--cached', 'a.txt'])).toContain('-line 1\n+user')
    })

    it('refuses a change that does not apply to HEAD and changes nothing', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'a.txt': text(withLine(10, 'job')), 'b.txt': 'b by job\n' })
      repo.write('a.txt', text(withLine(10, 'committed by user')))
      const head = repo.commit('user')
      const index = indexBytes(repo)
      const error = await commitChangeOnHead(repo.dir, s, b, 'job').catch((err: unknown) => err)
      expect(error).toMatchObject({ name: 'ChangeDoesNotApplyError', conflicts: [{ path: 'a.txt', reason: 'content' }] })
      expect(repo.revParse('HEAD')).toBe(head)
      expect(indexBytes(repo)).toBe(index)
    })

    it('refuses a change whose new folder HEAD now has a file in the way of', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'x/y.txt': 'job\n' })
      repo.write('x', 'a file committed by the user\n')
      const head = repo.commit('user')
      await expect(commitChangeOnHead(repo.dir, s, b, 'job')).rejects.toMatchObject({ name: 'ChangeDoesNotApplyError', conflicts: [{ path: 'x', reason: 'file-directory' }] })
      expect(repo.revParse('HEAD')).toBe(head)
    })

    it('makes the first commit of an unborn branch', async () => {
      const repo = scratch.repo()
      repo.write('mine.txt', 'not committed\n')
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'n.txt': 'new\n' })
      await mergeChangeIntoWorkingTree(repo.dir, s, b)
      const { commit, parent } = await commitChangeOnHead(repo.dir, s, b, 'job')
      expect(parent).toBeUndefined()
      expect(repo.revParse('main')).toBe(commit)
      expect(repo.git(['ls-tree', '-r', '--name-only', commit])).toBe('n.txt')
      expect(status(repo)).toBe('?? mine.txt')
    })

    it('says so when HEAD already holds the change', async () => {
      const repo = baseRepo()
      const s = await snapshot(repo)
      const b = jobCommit(repo, s, { 'b.txt': 'b by job\n' })
      repo.write('b.txt', 'b by job\n')
      repo.commit('user took it already')
      await expect(commitChangeOnHead(repo.dir, s, b, 'job')).rejects.toMatchObject({ name: 'NothingToCommitError' })
    })

    it('fails with HeadMovedError when the branch moves while the commit is made', async () => {
      const { repo, s, b, head } = await reviewedRepo()
      const elsewhere = repo.git(['commit-tree', `${head}^{tree}`, '-p', head, '-m', 'moved meanwhile'])
      // git runs the signing program between writing the commit and updating the ref: the
      // program stands in for a user who commits at that moment.
      const signer = path.join(scratch.dir(), 'sign.sh')
      writeFileSync(signer, [
        '#!/bin/sh',
        `git -C '${repo.dir}' update-ref refs/heads/main ${elsewhere}`,
        'cat >/dev/null',
        'printf "\\n[GNUPG:] SIG_CREATED D 1 8 00 0 0\\n" >&2',
        'printf -- "-----BEGIN PGP SIGNATURE-----\\n\\nfake\\n-----END PGP SIGNATURE-----\\n"'
      ].join('\n') + '\n')
      chmodSync(signer, 0o755)
      repo.git(['config', 'commit.gpgSign', 'true'])
      repo.git(['config', 'gpg.program', signer])
      repo.git(['config', 'user.signingKey', 'test'])
      const index = indexBytes(repo)
      await expect(commitChangeOnHead(repo.dir, s, b, 'job')).rejects.toMatchObject({ name: 'HeadMovedError', expected: head })
      expect(repo.revParse('main')).toBe(elsewhere)
      expect(indexBytes(repo)).toBe(index)
      expect(existsSync(path.join(repo.gitDir, 'index.lock'))).toBe(false)
    })

    it('refuses while another git command holds the index lock', async () => {
      const { repo, s, b, head } = await reviewedRepo()
      writeFileSync(path.join(repo.gitDir, 'index.lock'), '')
      await expect(commitChangeOnHead(repo.dir, s, b, 'job')).rejects.toMatchObject({ name: 'IndexLockedError' })
      expect(existsSync(path.join(repo.gitDir, 'index.lock'))).toBe(true)
      expect(repo.revParse('HEAD')).toBe(head)
    })

    describe('a job change next to the user\'s uncommitted edits', () => {
      /** The user's uncommitted a.txt, a snapshot of it, the job's a.txt on top, merged in. */
      async function adjacent (mine: string[], job: string[]): Promise<{ repo: TestRepo, s: string, b: string, head: string }> {
        const repo = baseRepo()
        repo.write('a.txt', text(mine))
        const s = await snapshot(repo)
        const b = jobCommit(repo, s, { 'a.txt': text(job) })
        expect((await mergeChangeIntoWorkingTree(repo.dir, s, b)).clean).toBe(true)
        return { repo, s, b, head: repo.revParse('HEAD') }
      }

      it('commits only the job\'s line appended below a line the user added', async () => {
        const { repo, s, b } = await adjacent([...LINES, 'mine'], [...LINES, 'mine', 'job'])
        const { commit } = await commitChangeOnHead(repo.dir, s, b, 'job')
        expect(repo.git(['show', `${commit}:a.txt`]) + '\n').toBe(text([...LINES, 'job']))
        expect(status(repo)).toBe(' M a.txt')
        expect(repo.git(['diff', 'a.txt'])).toMatch(/\n line 10\n\+mine\n job\n?$/)
      })

      it('commits only the job\'s line when the user\'s uncommitted last line has no newline', async () => {
        const repo = baseRepo()
        repo.write('a.txt', `${text(LINES)}mine`)
        const s = await snapshot(repo)
        const b = jobCommit(repo, s, { 'a.txt': text([...LINES, 'mine', 'job']) })
        expect((await mergeChangeIntoWorkingTree(repo.dir, s, b)).clean).toBe(true)
        const { commit } = await commitChangeOnHead(repo.dir, s, b, 'job')
        expect(repo.git(['show', `${commit}:a.txt`]) + '\n').toBe(text([...LINES, 'job']))
        expect(repo.git(['diff', 'a.txt'])).toMatch(/\n line 10\n\+mine\n job\n?$/)
      })

      it('keeps a last line without a newline as it is when the job changes a line above it', async () => {
        const repo = baseRepo()
        repo.write('a.txt', `${text(withLine(2, 'mine'))}last, no newline`)
        repo.commit('no newline at the end')
        repo.write('a.txt', `${text(withLine(3, 'mine, uncommitted', withLine(2, 'mine')))}last, no newline`)
        const s = await snapshot(repo)
        const b = jobCommit(repo, s, { 'a.txt': `${text(withLine(4, 'job', withLine(3, 'mine, uncommitted', withLine(2, 'mine'))))}last, no newline` })
        await mergeChangeIntoWorkingTree(repo.dir, s, b)
        const { commit } = await commitChangeOnHead(repo.dir, s, b, 'job')
        expect(repo.git(['cat-file', 'blob', `${commit}:a.txt`])).toBe(`${text(withLine(4, 'job', withLine(2, 'mine')))}last, no newline`)
      })

      it('commits only the job\'s edit of the line after the one the user changed', async () => {
        const { repo, s, b } = await adjacent(withLine(5, 'mine'), withLine(6, 'job', withLine(5, 'mine')))
        const { commit } = await commitChangeOnHead(repo.dir, s, b, 'job')
        expect(repo.git(['show', `${commit}:a.txt`]) + '\n').toBe(text(withLine(6, 'job')))
        expect(repo.git(['diff', 'a.txt'])).toContain('-line 5\n+mine')
      })

      it('names the job\'s lines when its change rewrites the user\'s own edit; withMyEdits commits the file as it stands', async () => {
        const { repo, s, b, head } = await adjacent(withLine(5, 'mine'), withLine(6, 'job 6', withLine(5, 'job 5')))
        const error = await commitChangeOnHead(repo.dir, s, b, 'job').catch((err: unknown) => err)
        expect(error).toMatchObject({ name: 'ChangeDoesNotApplyError', conflicts: [{ path: 'a.txt', reason: 'content', lines: ['5-6'] }] })
        expect((error as Error).message).toContain("a.txt (content, the job's lines 5-6)")
        expect(repo.revParse('HEAD')).toBe(head)
        repo.write('u.txt', 'untracked\n')
        const { commit } = await commitChangeOnHead(repo.dir, s, b, 'job', { withMyEdits: true })
        expect(repo.git(['show', `${commit}:a.txt`]) + '\n').toBe(text(withLine(6, 'job 6', withLine(5, 'job 5'))))
        expect(status(repo)).toBe('?? u.txt')
      })

      it('still refuses two insertions at the same place (their order is unknown)', async () => {
        const repo = baseRepo()
        const s = await snapshot(repo)
        const b = jobCommit(repo, s, { 'a.txt': text([...LINES, 'job']) })
        repo.write('a.txt', text([...LINES, 'committed']))
        repo.commit('user')
        await expect(commitChangeOnHead(repo.dir, s, b, 'job')).rejects.toMatchObject({ name: 'ChangeDoesNotApplyError', conflicts: [{ path: 'a.txt', lines: ['11'] }] })
      })
    })

    it('works on a detached HEAD', async () => {
      const { repo, s, b, head } = await reviewedRepo()
      repo.git(['checkout', '-q', '--detach'])
      const { commit } = await commitChangeOnHead(repo.dir, s, b, 'job')
      expect(repo.revParse('HEAD')).toBe(commit)
      expect(repo.revParse('main')).toBe(head)
      expect(gitSucceeds(repo.dir, ['symbolic-ref', '-q', 'HEAD'])).toBe(false)
      expect(repo.git(['rev-parse', `${commit}^`])).toBe(head)
      expect(status(repo).split('\n')).toEqual([' M a.txt', 'M  c.txt', ' M dir/d.txt', '?? u.txt'])
    })
  })
})
