import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startTestNode, pair, type TestNode } from '../helpers/nodes.js'
import { git, gitSucceeds } from '../helpers/git-repo.js'

/** A repository of `files` incompressible files of `bytes` each, committed; returns the commit. */
async function makeRepo (dir: string, files: number, bytes: number): Promise<string> {
  await mkdir(dir, { recursive: true })
  git(dir, ['init', '-q'])
  for (let i = 0; i < files; i++) await writeFile(path.join(dir, `f${i}.bin`), randomBytes(bytes))
  git(dir, ['add', '-A'])
  git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'init'])
  return git(dir, ['rev-parse', 'HEAD'])
}

describe('a fetch into a full disk', () => {
  let author: TestNode
  let builder: TestNode
  let scratch: string
  let disk: string
  let mounted = false

  beforeEach(async () => {
    author = await startTestNode()
    builder = await startTestNode()
    await pair(author, builder)
    scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-diskfull-'))
    disk = path.join(scratch, 'disk')
    await mkdir(disk)
    // A small disk of its own: 1 MiB of tmpfs (the tests run as root).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk])
    mounted = true
  })

  afterEach(async () => {
    await author?.stop()
    await builder?.stop()
    // Unmounted also when the test failed, so no tmpfs is left behind.
    if (mounted) execFileSync('umount', ['-l', disk])
    mounted = false
    await rm(scratch, { recursive: true, force: true })
  })

  for (const [what, files, bytes] of [['a large pack (index-pack)', 80, 32 * 1024], ['a small pack (in-process)', 8, 120 * 1024]] as const) {
    it(`fails with DiskFullError on ${what} and leaves no partial ref or quarantine`, async () => {
      const repo = path.join(scratch, 'author')
      const commit = await makeRepo(repo, files, bytes)
      author.grants.add(builder.peerId, commit, repo)
      const into = path.join(disk, 'builder')
      await expect(builder.node.services.exchange.fetch(author.node.peerId, [commit], into)).rejects.toMatchObject({
        name: 'DiskFullError',
        message: expect.stringMatching(/no space left/i)
      })
      expect(gitSucceeds(into, ['rev-parse', '--verify', '-q', `refs/gitmesh/fetched/${commit}`])).toBe(false)
      const objects = path.join(into, '.git/objects')
      expect((await readdir(objects)).filter(name => name.startsWith('incoming'))).toEqual([])
      expect((await readdir(path.join(objects, 'pack'))).filter(name => name.startsWith('tmp_'))).toEqual([])
      // Whatever was stored is whole: git's own check passes on it.
      git(into, ['fsck', '--connectivity-only', '--no-dangling'])
      // With room again, the same fetch completes where it stopped.
      execFileSync('mount', ['-o', 'remount,size=16m', disk])
      const report = await builder.node.services.exchange.fetch(author.node.peerId, [commit], into)
      expect(report.refs).toEqual([`refs/gitmesh/fetched/${commit}`])
      git(into, ['fsck', '--strict'])
    })
  }
})
