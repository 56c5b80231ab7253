import { spawn } from 'node:child_process'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { releaseStaleIndexLock, withIndexLock } from '../../../src/git/index-lock.js'
import { Scratch } from '../../helpers/git-repo.js'

const INDEX_LOCK = fileURLToPath(new URL('../../../dist/git/index-lock.js', import.meta.url))

/** A real process that takes the lock with `withIndexLock` and is killed (SIGKILL) while holding it. */
async function dieHoldingLock (gitDir: string): Promise<void> {
  const script = `import { withIndexLock } from ${JSON.stringify(INDEX_LOCK)}
await withIndexLock(${JSON.stringify(path.join(gitDir, 'index'))}, async () => { process.stdout.write('locked'); await new Promise(() => {}) })`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => { resolve() })
    child.once('exit', code => { reject(new Error(`exited ${code} before taking the lock`)) })
  })
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

describe('index lock', () => {
  const scratch = new Scratch()
  afterEach(() => { scratch.cleanup() })

  it('removes a lock a killed gitmesh process left, and only that one', async () => {
    const repo = scratch.repo()
    const gitDir = repo.gitDir
    const lock = path.join(gitDir, 'index.lock')
    await dieHoldingLock(gitDir)
    expect(existsSync(lock)).toBe(true)
    expect(await releaseStaleIndexLock(gitDir)).toBe(true)
    expect(existsSync(lock)).toBe(false)
    // the lock is usable again
    await withIndexLock(path.join(gitDir, 'index'), async () => { expect(existsSync(lock)).toBe(true) })
  })

  it('never removes a lock another git process took in the place of the dead one', async () => {
    const repo = scratch.repo()
    const gitDir = repo.gitDir
    const lock = path.join(gitDir, 'index.lock')
    await dieHoldingLock(gitDir)
    // someone removed the stale lock by hand, and a git command now holds a lock of its own
    rmSync(lock)
    writeFileSync(lock, 'another git process')
    expect(await releaseStaleIndexLock(gitDir)).toBe(false)
    expect(existsSync(lock)).toBe(true)
    await expect(withIndexLock(path.join(gitDir, 'index'), async () => {})).rejects.toMatchObject({ name: 'IndexLockedError' })
  })

  it('leaves a lock with no note of gitmesh\'s alone', async () => {
    const repo = scratch.repo()
    const lock = path.join(repo.gitDir, 'index.lock')
    writeFileSync(lock, '')
    expect(await releaseStaleIndexLock(repo.gitDir)).toBe(false)
    expect(existsSync(lock)).toBe(true)
  })
})
