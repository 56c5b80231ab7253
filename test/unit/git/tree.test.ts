import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCommit, parseTree, type TreeEntry } from '../../../src/git/tree.js'
import { MalformedObjectError } from '../../../src/git/errors.js'
import { MAX_TREE_BYTES } from '../../../src/git/constants.js'
import { Scratch, type TestRepo } from '../../helpers/git-repo.js'

/** `git ls-tree -z` as entries, names as latin1 (raw bytes) and modes as stored in the tree object. */
function lsTree (repo: TestRepo, tree: string): TreeEntry[] {
  const out = repo.gitRaw(['ls-tree', '-z', tree]).toString('latin1')
  return out.split('\0').filter(line => line !== '').map(line => {
    const match = /^(\d+) (\w+) ([0-9a-f]{40})\t([\s\S]*)$/.exec(line)
    if (match === null) throw new Error(`unexpected ls-tree line ${JSON.stringify(line)}`)
    // ls-tree prints a tree's mode zero-padded (040000); the object stores 40000.
    return { mode: match[1]!.replace(/^0+/, ''), kind: match[2] as TreeEntry['kind'], oid: match[3]!, name: match[4]! }
  })
}

describe('parseTree and parseCommit on real objects', () => {
  const scratch = new Scratch()
  let repo: TestRepo
  let tree: string
  let treeBody: Buffer
  let gitlinkTarget: string

  beforeAll(() => {
    repo = scratch.repo()
    repo.write('README.md', '# readme\n')
    repo.write('run.sh', '#!/bin/sh\necho hi\n', { executable: true })
    repo.symlink('link', 'README.md')
    repo.write('src/index.ts', 'export {}\n')
    repo.write('src/deep/x.ts', 'export const x = 1\n')
    repo.write('ünï code.txt', 'non-ascii name\n')
    repo.write('with space', 'space\n')
    gitlinkTarget = repo.commit('initial')
    // A submodule entry: a gitlink to a commit (it need not exist in this repository).
    repo.git(['update-index', '--add', '--cacheinfo', `160000,${gitlinkTarget},sub`])
    tree = repo.git(['write-tree'])
    treeBody = repo.gitRaw(['cat-file', 'tree', tree])
  })

  afterAll(() => { scratch.cleanup() })

  it('matches git ls-tree for files, an executable, a symlink, a subdir and a gitlink', () => {
    const parsed = parseTree(treeBody)
    const expected = lsTree(repo, tree)
    expect(parsed).toEqual(expected)
    // The fixture really has every kind of entry.
    const byName = new Map(parsed.map(entry => [entry.name, entry]))
    expect(byName.get('README.md')).toMatchObject({ mode: '100644', kind: 'blob' })
    expect(byName.get('run.sh')).toMatchObject({ mode: '100755', kind: 'blob' })
    expect(byName.get('link')).toMatchObject({ mode: '120000', kind: 'blob', oid: repo.git(['hash-object', '--stdin'], { input: 'README.md' }) })
    expect(byName.get('src')).toMatchObject({ mode: '40000', kind: 'tree', oid: repo.revParse(`${tree}:src`) })
    expect(byName.get('sub')).toMatchObject({ mode: '160000', kind: 'commit', oid: gitlinkTarget })
    expect(byName.get(Buffer.from('ünï code.txt', 'utf8').toString('latin1'))).toMatchObject({ kind: 'blob' })
  })

  it('parses a subarray at a non-zero offset', () => {
    const padded = Buffer.concat([Buffer.from('garbage-before'), treeBody, Buffer.from('garbage-after')])
    const view = new Uint8Array(padded.buffer, padded.byteOffset + 14, treeBody.length)
    expect(parseTree(view)).toEqual(parseTree(treeBody))
  })

  it('parses an empty tree as no entries', () => {
    const empty = repo.git(['hash-object', '-t', 'tree', '-w', '--stdin'], { input: '' })
    expect(parseTree(repo.gitRaw(['cat-file', 'tree', empty]))).toEqual([])
  })

  it('throws MalformedObjectError for every truncation that does not end on an entry boundary', () => {
    const entries = parseTree(treeBody)
    const boundaries = new Map<number, number>()
    let offset = 0
    for (const [i, entry] of entries.entries()) {
      offset += Buffer.byteLength(`${entry.mode} `) + Buffer.from(entry.name, 'latin1').length + 1 + 20
      boundaries.set(offset, i + 1)
    }
    expect(offset).toBe(treeBody.length)
    let rejected = 0
    for (let cut = 1; cut < treeBody.length; cut++) {
      const prefix = treeBody.subarray(0, cut)
      const whole = boundaries.get(cut)
      if (whole !== undefined) {
        expect(parseTree(prefix)).toEqual(entries.slice(0, whole))
      } else {
        expect(() => parseTree(prefix), `cut at ${cut}`).toThrow(MalformedObjectError)
        rejected++
      }
    }
    expect(rejected).toBeGreaterThan(treeBody.length - entries.length - 1)
  })

  it.each([
    ['a mode without a space', Buffer.from('100644')],
    ['an unknown mode', Buffer.concat([Buffer.from('100600 f\0'), Buffer.alloc(20)])],
    ['an empty mode', Buffer.concat([Buffer.from(' f\0'), Buffer.alloc(20)])],
    ['a name without NUL', Buffer.from('100644 name-without-nul')],
    ['a short object id', Buffer.concat([Buffer.from('100644 f\0'), Buffer.alloc(19)])]
  ])('rejects %s', (_, body) => {
    expect(() => parseTree(body)).toThrow(MalformedObjectError)
  })

  it('rejects a tree larger than MAX_TREE_BYTES before parsing it', () => {
    expect(() => parseTree(new Uint8Array(MAX_TREE_BYTES + 1))).toThrow(MalformedObjectError)
  })

  it('reads tree and parents from a root commit, a merge commit and a commit with a tricky message', () => {
    const root = repo.revParse('HEAD')
    expect(parseCommit(repo.gitRaw(['cat-file', 'commit', root]))).toEqual({ tree: repo.revParse('HEAD^{tree}'), parents: [] })

    const side = repo.git(['commit-tree', tree, '-p', root, '-m', 'side'])
    const merge = repo.git(['commit-tree', tree, '-p', root, '-p', side, '-m', 'merge'])
    expect(parseCommit(repo.gitRaw(['cat-file', 'commit', merge]))).toEqual({ tree, parents: [root, side] })

    // Lines in the message that look like headers are not headers.
    const message = `subject\n\ntree ${root}\nparent ${root}\n`
    const tricky = repo.git(['commit-tree', tree, '-p', side], { input: message })
    expect(parseCommit(repo.gitRaw(['cat-file', 'commit', tricky]))).toEqual({ tree, parents: [side] })
  })

  it.each([
    ['an empty body', ''],
    ['no tree line', 'author a <a@b> 0 +0000\n\nmsg\n'],
    ['a short tree id', 'tree 1234\n\nmsg\n'],
    ['a truncated tree line', 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee49'],
    ['an upper-case tree id', `tree ${'A'.repeat(40)}\n\nmsg\n`],
    ['a malformed parent', `tree ${'a'.repeat(40)}\nparent xyz\n\nmsg\n`],
    ['a truncated parent', `tree ${'a'.repeat(40)}\nparent ${'b'.repeat(39)}`]
  ])('parseCommit rejects %s', (_, text) => {
    expect(() => parseCommit(Buffer.from(text, 'latin1'))).toThrow(MalformedObjectError)
  })
})
