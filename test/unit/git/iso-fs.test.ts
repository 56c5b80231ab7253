import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import * as nodeFs from 'node:fs/promises'
import path from 'node:path'
import git from 'isomorphic-git'
import { TestRepo } from '../../helpers/git-repo.js'
import { atomicIsoFs, isoFs, writeFileAtomic, type WritePrimitives } from '../../../src/git/iso-fs.js'

class InjectedCrashError extends Error {
  override name = 'InjectedCrashError'
  constructor () { super('injected crash') }
}

/** Node's primitives, except that the write stops after half the bytes, as a crash would leave it. */
const crashMidWrite: WritePrimitives = {
  ...nodeFs,
  writeFile: (async (file: string, data: string | Uint8Array) => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    await nodeFs.writeFile(file, bytes.subarray(0, bytes.length >> 1))
    throw new InjectedCrashError()
  }) as typeof nodeFs.writeFile
}

/** Node's primitives, except that the rename never happens: the data is written but not in place. */
const crashBeforeRename: WritePrimitives = {
  ...nodeFs,
  rename: (async () => { throw new InjectedCrashError() }) as typeof nodeFs.rename
}

describe('the atomic fs for isomorphic-git (git is the oracle)', () => {
  const repos: TestRepo[] = []
  const fresh = (): TestRepo => { const repo = TestRepo.init(); repos.push(repo); return repo }
  afterEach(() => { for (const repo of repos.splice(0)) rmSync(repo.dir, { recursive: true, force: true }) })

  it('leaves the old file or none, never a partial one, when a write is interrupted, and no temporary file', async () => {
    const repo = fresh()
    const file = repo.path('target.txt')
    for (const primitives of [crashMidWrite, crashBeforeRename]) {
      await expect(writeFileAtomic(file, 'new content that never lands\n', undefined, primitives)).rejects.toThrow(InjectedCrashError)
      expect(existsSync(file)).toBe(false)
      writeFileSync(file, 'old content\n')
      await expect(writeFileAtomic(file, 'new content that never lands\n', 'utf8', primitives)).rejects.toThrow(InjectedCrashError)
      expect(readFileSync(file, 'utf8')).toBe('old content\n')
      rmSync(file)
      expect(readdirSync(repo.dir).filter(name => name.startsWith('tmp_'))).toEqual([])
    }
    await writeFileAtomic(file, 'whole\n', { mode: 0o444 })
    expect(readFileSync(file, 'utf8')).toBe('whole\n')
  })

  it('isomorphic-git writes objects through it that git reads back, and a crashed write leaves no object', async () => {
    const repo = fresh()
    const gitdir = path.join(repo.dir, '.git')
    const blob = await git.writeBlob({ fs: isoFs, gitdir, blob: Buffer.from('through the atomic fs\n') })
    expect(blob).toBe(repo.git(['hash-object', '--stdin'], { input: 'through the atomic fs\n' }))
    expect(repo.git(['cat-file', '-p', blob])).toBe('through the atomic fs')

    const content = Buffer.from('never written\n')
    const oid = repo.git(['hash-object', '--stdin'], { input: content })
    for (const primitives of [crashMidWrite, crashBeforeRename]) {
      await expect(git.writeBlob({ fs: atomicIsoFs(primitives), gitdir, blob: content })).rejects.toThrow(InjectedCrashError)
      expect(repo.objectType(oid)).toBeUndefined()
      const left = readdirSync(path.join(gitdir, 'objects', oid.slice(0, 2)))
      expect(left.filter(name => name === oid.slice(2) || name.startsWith('tmp_'))).toEqual([])
    }
    repo.git(['fsck', '--strict', '--no-progress'])
  })

  it('isomorphic-git reads loose and packed objects through it, byte for byte as git cat-file', async () => {
    const repo = fresh()
    repo.write('a.txt', 'a\n')
    const first = repo.commit('first')
    repo.git(['gc', '-q'])
    repo.write('a.txt', 'b\n')
    const second = repo.commit('second')
    const gitdir = path.join(repo.dir, '.git')
    for (const oid of [first, second, repo.revParse(`${first}:a.txt`), repo.revParse(`${second}:a.txt`)]) {
      const { type, object } = await git.readObject({ fs: isoFs, gitdir, oid, format: 'content' })
      expect(type).toBe(repo.objectType(oid))
      expect(Buffer.from(object as Uint8Array)).toEqual(repo.gitRaw(['cat-file', type, oid]))
    }
  })
})
