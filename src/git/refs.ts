import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { gitText } from './git-process.js'
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

async function exists (file: string): Promise<boolean> {
  try {
    await stat(file)
    return true
  } catch {
    return false
  }
}
