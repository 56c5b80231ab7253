import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { exists } from './fs-util.js'
import { gitText, runGit } from './git-process.js'
import { isOid } from './oid.js'
import { MAX_SYMREF_DEPTH } from './constants.js'
import type { RepositoryPaths } from './repository.js'


/**
 * HEAD's commit read straight from the ref files (loose refs, then packed-refs), or undefined on
 * an unborn branch. Repositories on the reftable backend fall back to `git rev-parse`.
 */
export async function readHeadCommit (repo: RepositoryPaths): Promise<string | undefined> {
  if (await exists(path.join(repo.commonDir, 'reftable'))) {
    return await gitText(['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { cwd: repo.gitDir, okExitCodes: [1] }) || undefined
  }
  let name = 'HEAD'
  for (let depth = 0; depth < MAX_SYMREF_DEPTH; depth++) {
    const value = await readLooseRef(repo, name) ?? await readPackedRef(repo, name)
    if (value === undefined) return undefined
    if (isOid(value)) return value
    if (!value.startsWith('ref: ')) return undefined
    name = value.slice(5)
  }
  return undefined
}

async function readLooseRef (repo: RepositoryPaths, name: string): Promise<string | undefined> {
  // HEAD and refs/worktree/ are per worktree (its git dir); every other ref is shared (common dir).
  const dir = name === 'HEAD' || name.startsWith('refs/worktree/') ? repo.gitDir : repo.commonDir
  try {
    return (await readFile(path.join(dir, name), 'utf8')).trim()
  } catch {
    return undefined
  }
}

async function readPackedRef (repo: RepositoryPaths, name: string): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(path.join(repo.commonDir, 'packed-refs'), 'utf8')
  } catch {
    return undefined
  }
  for (const line of text.split('\n')) {
    if (line.length > 41 && line.slice(41) === name) return line.slice(0, 40)
  }
  return undefined
}


/**
 * Points a shared ref at `oid` the way git's files backend does (a `<ref>.lock` created
 * exclusively, then renamed over the ref), without starting `git update-ref`. Used for gitmesh's
 * own refs, which have no reflog; repositories on the reftable backend go through git.
 */
export async function writeRef (repo: RepositoryPaths, name: string, oid: string): Promise<void> {
  if (!name.startsWith('refs/') || name.split('/').some(part => part === '' || part === '.' || part === '..' || part.endsWith('.lock'))) {
    throw new Error(`refusing to write the ref ${JSON.stringify(name)}`)
  }
  if (await exists(path.join(repo.commonDir, 'reftable'))) {
    await runGit(['update-ref', name, oid], { cwd: repo.gitDir })
    return
  }
  const file = path.join(repo.commonDir, name)
  // Already there (a concurrent fetch of the same commit set it): nothing to do.
  if ((await readFile(file, 'utf8').catch(() => '')).trim() === oid) return
  const lock = `${file}.lock`
  await mkdir(path.dirname(file), { recursive: true })
  try {
    await writeFile(lock, `${oid}\n`, { flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${lock} exists: another process is updating ${name}, or one crashed while doing it (remove the file if no git process is running)`)
    // A lock created but not written (a full disk) would block every later update: remove it.
    await unlink(lock).catch(() => {})
    throw err
  }
  try {
    await rename(lock, file)
  } catch (err) {
    await unlink(lock).catch(() => {})
    throw err
  }
}
