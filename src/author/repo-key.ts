import { createHash } from 'node:crypto'

/** A stable key for a repository path, so builders keep one cache per author repository. */
export function repoKey (repo: string): string {
  return createHash('sha256').update(repo).digest('hex').slice(0, 16)
}
