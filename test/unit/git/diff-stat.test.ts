import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { diffStat, parseNumstat } from '../../../src/git/diff-stat.js'

describe('parseNumstat', () => {
  it('sums lines over files; a binary file counts as a file without lines', () => {
    expect(parseNumstat('3\t1\ta.txt\0' + '0\t5\tgone.txt\0' + '-\t-\timage.png\0')).toEqual({ files: 3, added: 3, removed: 6 })
  })

  it('is zero for no change', () => {
    expect(parseNumstat('')).toEqual({ files: 0, added: 0, removed: 0 })
  })

  it('reads paths with tabs and newlines whole (-z)', () => {
    expect(parseNumstat('1\t0\ta\tb\nc.txt\0')).toEqual({ files: 1, added: 1, removed: 0 })
  })
})

describe('diffStat', () => {
  let dir: string | undefined
  afterEach(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  it('measures the change between two commits of a real repository, git being the oracle', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-diffstat-'))
    const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=dev', '-c', 'user.email=dev@example.invalid', ...args], { cwd: dir, encoding: 'utf8' }).trim()
    git('init', '-q')
    await writeFile(path.join(dir, 'a.txt'), 'one\ntwo\nthree\n')
    git('add', '-A')
    git('commit', '-q', '-m', 's')
    const s = git('rev-parse', 'HEAD')
    await writeFile(path.join(dir, 'a.txt'), 'one\n2\nthree\nfour\n')
    await writeFile(path.join(dir, 'b.txt'), 'new\n')
    git('add', '-A')
    git('commit', '-q', '-m', 'b')
    expect(await diffStat(dir, s, 'HEAD')).toEqual({ files: 2, added: 3, removed: 1 })
    expect(git('diff', '--shortstat', s, 'HEAD')).toBe('2 files changed, 3 insertions(+), 1 deletion(-)')
  })
})
