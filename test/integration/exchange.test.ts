import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile, mkdir, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startTestNode, pair, type TestNode } from '../helpers/nodes.js'
import { snapshotWorkingTree } from '../../src/git/snapshot.js'

function git (cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim()
}

async function makeRepo (dir: string, files: number): Promise<void> {
  git(path.dirname(dir), 'init', '-q', dir)
  for (let i = 0; i < files; i++) {
    const sub = path.join(dir, `d${i % 7}`, `e${i % 3}`)
    await mkdir(sub, { recursive: true })
    await writeFile(path.join(sub, `f${i}.txt`), `file ${i}\n`.repeat(20 + i))
  }
  git(dir, 'add', '-A')
  git(dir, 'commit', '-q', '-m', 'init')
}

describe('object exchange between two real nodes', () => {
  let author: TestNode
  let builder: TestNode
  let scratch: string

  beforeEach(async () => {
    author = await startTestNode()
    builder = await startTestNode()
    await pair(author, builder)
    scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-exchange-'))
  })

  afterEach(async () => {
    await author?.stop()
    await builder?.stop()
    await rm(scratch, { recursive: true, force: true })
  })

  it('fetches a granted snapshot cold, then a one-file change in one round trip', async () => {
    const repo = path.join(scratch, 'author')
    await makeRepo(repo, 60)
    await writeFile(path.join(repo, 'untracked.txt'), 'new\n')
    const s1 = await snapshotWorkingTree(repo)
    author.grants.add(builder.peerId, s1.commit, repo)

    const into = path.join(scratch, 'builder')
    const cold = await builder.node.services.exchange.fetch(author.node.peerId, [s1.commit], into)
    expect(cold.roundTrips).toBe(1)
    expect(cold.objects).toBe(Number(git(repo, 'rev-list', '--objects', '--no-walk', s1.commit).split('\n').length))
    expect(git(into, 'rev-parse', `refs/gitmesh/fetched/${s1.commit}`)).toBe(s1.commit)
    git(into, 'fsck', '--strict')
    expect(git(into, 'cat-file', '-p', `${s1.commit}:untracked.txt`)).toBe('new')

    await appendFile(path.join(repo, 'd3/e1/f10.txt'), 'changed\n')
    const s2 = await snapshotWorkingTree(repo)
    author.grants.add(builder.peerId, s2.commit, repo)
    const warm = await builder.node.services.exchange.fetch(author.node.peerId, [s2.commit], into)
    expect(warm.roundTrips).toBe(1)
    // the commit, the root tree, d3, d3/e1 and the changed blob
    expect(warm.objects).toBe(5)
    git(into, 'fsck', '--strict')
    expect(git(into, 'cat-file', '-p', `${s2.commit}:d3/e1/f10.txt`).endsWith('changed')).toBe(true)
  })

  it('fetches again into a repository that was deleted and made anew at the same path', async () => {
    const repo = path.join(scratch, 'author')
    await makeRepo(repo, 5)
    const head = git(repo, 'rev-parse', 'HEAD')
    author.grants.add(builder.peerId, head, repo)
    const into = path.join(scratch, 'builder')
    await builder.node.services.exchange.fetch(author.node.peerId, [head], into)
    await rm(into, { recursive: true, force: true })
    const again = await builder.node.services.exchange.fetch(author.node.peerId, [head], into)
    expect(again.objects).toBeGreaterThan(0)
    git(into, 'fsck', '--strict')
  })

  it('shares one transfer between concurrent fetches of the same commit', async () => {
    const repo = path.join(scratch, 'author')
    await makeRepo(repo, 5)
    const head = git(repo, 'rev-parse', 'HEAD')
    author.grants.add(builder.peerId, head, repo)
    const into = path.join(scratch, 'builder')
    const reports = await Promise.all(Array.from({ length: 4 }, async () => await builder.node.services.exchange.fetch(author.node.peerId, [head], into)))
    expect(new Set(reports).size).toBe(1)
    git(into, 'fsck', '--strict')
  })

  it('lets a caller that joined a transfer stop waiting on its own signal, while the transfer goes on', async () => {
    const repo = path.join(scratch, 'author')
    await makeRepo(repo, 5)
    const head = git(repo, 'rev-parse', 'HEAD')
    author.grants.add(builder.peerId, head, repo)
    const into = path.join(scratch, 'builder')
    const first = builder.node.services.exchange.fetch(author.node.peerId, [head], into)
    const cancel = new AbortController()
    const joined = builder.node.services.exchange.fetch(author.node.peerId, [head], into, { signal: cancel.signal })
    cancel.abort(new Error('cancelled by the test'))
    await expect(joined).rejects.toThrow('cancelled by the test')
    expect((await first).objects).toBeGreaterThan(0)
    git(into, 'fsck', '--strict')
  })

  it('honours grant expiry', async () => {
    const repo = path.join(scratch, 'author')
    await makeRepo(repo, 5)
    const head = git(repo, 'rev-parse', 'HEAD')
    author.grants.add(builder.peerId, head, repo, Date.now() - 1)
    const into = path.join(scratch, 'builder')
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [head], into)).rejects.toMatchObject({ name: 'RefusedError', code: 'not-granted' })
    author.grants.add(builder.peerId, head, repo, Date.now() + 60_000)
    const report = await builder.node.services.exchange.fetch(author.node.peerId, [head], into)
    expect(report.roundTrips).toBe(1)
  })

  it('refuses wants outside the grants without revealing content', async () => {
    const repo = path.join(scratch, 'author')
    await makeRepo(repo, 5)
    const head = git(repo, 'rev-parse', 'HEAD')
    const into = path.join(scratch, 'builder')
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [head], into)).rejects.toMatchObject({ name: 'RefusedError', code: 'not-granted' })
    const missing = '0123456789012345678901234567890123456789'
    await expect(builder.node.services.exchange.fetch(author.node.peerId, [missing], into)).rejects.toMatchObject({ name: 'RefusedError', code: 'not-granted' })
  })
})
