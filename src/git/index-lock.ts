/**
 * git's `index.lock`, taken the way git takes it, with a note of who took it: a daemon killed
 * while holding the lock leaves it behind, and every git command after that (and every accept)
 * fails until it is gone. The note (`gitmesh-index-lock.json` beside it: our pid and the lock
 * file's identity) lets a later run remove exactly a lock gitmesh left, never one another git
 * process holds.
 */
import { lstat, open, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { IndexLockedError } from './errors.js'

const NOTE_NAME = 'gitmesh-index-lock.json'

interface LockNote {
  pid: number
  ino: number
  birthtimeMs: number
}

/**
 * Holds `index.lock` (created exclusively) while `fn` runs; `fn` ends by renaming it into place.
 * On failure the lock is removed; after success it must not be, since the name may by then be
 * another git command's lock.
 */
export async function withIndexLock (indexFile: string, fn: (lockFile: string) => Promise<void>): Promise<void> {
  const lockFile = `${indexFile}.lock`
  const note = path.join(path.dirname(indexFile), NOTE_NAME)
  await releaseStaleIndexLock(path.dirname(indexFile))
  try {
    await (await open(lockFile, 'wx')).close()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new IndexLockedError(lockFile)
    throw err
  }
  try {
    const info = await lstat(lockFile)
    await writeFile(note, JSON.stringify({ pid: process.pid, ino: info.ino, birthtimeMs: info.birthtimeMs } satisfies LockNote))
    await fn(lockFile)
  } catch (err) {
    await rm(lockFile, { force: true })
    throw err
  } finally {
    await rm(note, { force: true })
  }
}

/**
 * Removes an `index.lock` in `gitDir` that a gitmesh process took and did not live to release:
 * the note names a process that is gone (or this one, which holds no lock outside
 * `withIndexLock`), and the lock is still the very file it created. Returns true when it removed one.
 */
export async function releaseStaleIndexLock (gitDir: string): Promise<boolean> {
  const notePath = path.join(gitDir, NOTE_NAME)
  let note: LockNote
  try {
    note = JSON.parse(await readFile(notePath, 'utf8')) as LockNote
  } catch (err) {
    // No note; or one cut short by a crash while it was written, when the lock cannot be told apart.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') await rm(notePath, { force: true })
    return false
  }
  if (note.pid !== process.pid && processAlive(note.pid)) return false
  const lockFile = path.join(gitDir, 'index.lock')
  let removed = false
  try {
    const info = await lstat(lockFile)
    if (info.ino === note.ino && info.birthtimeMs === note.birthtimeMs) {
      await rm(lockFile, { force: true })
      removed = true
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await rm(notePath, { force: true })
  return removed
}

function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
