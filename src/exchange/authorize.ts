import type { Grant } from '../store/grant-store.js'
import type { ObjectStore } from '../git/object-store.js'
import { NotGrantedError } from './errors.js'
import { MAX_ANCESTRY_CHECKS } from './constants.js'


export interface Authorized {
  repo: string
  /** Haves the peer may use: granted roots or their ancestors, in the same repository. */
  haves: string[]
}

/**
 * Decides whether every want is reachable from a root granted to the peer (the root itself or an
 * ancestor of it, in one repository). The error says only "not granted", whether or not the
 * object exists, so a refusal leaks nothing.
 */
export async function authorizeWants (
  grants: readonly Grant[],
  wants: readonly string[],
  haves: readonly string[],
  openStore: (repo: string) => Promise<ObjectStore>
): Promise<Authorized> {
  let repo: string | undefined
  for (const want of wants) {
    const grant = grants.find(g => g.root === want && (repo === undefined || g.repo === repo)) ??
      await findAncestorGrant(grants, want, repo, openStore)
    if (grant === undefined) throw new NotGrantedError(`${want} is not granted to you`)
    repo = grant.repo
  }
  const sameRepo = grants.filter(g => g.repo === repo)
  const allowed: string[] = []
  for (const have of haves) {
    if (sameRepo.some(g => g.root === have) || await findAncestorGrant(sameRepo, have, repo, openStore) !== undefined) {
      allowed.push(have)
    }
  }
  return { repo: repo!, haves: allowed }
}

async function findAncestorGrant (
  grants: readonly Grant[],
  oid: string,
  repo: string | undefined,
  openStore: (repo: string) => Promise<ObjectStore>
): Promise<Grant | undefined> {
  let checked = 0
  for (const grant of grants) {
    if (repo !== undefined && grant.repo !== repo) continue
    if (checked++ >= MAX_ANCESTRY_CHECKS) break
    try {
      const store = await openStore(grant.repo)
      if (await store.isAncestor(oid, grant.root)) return grant
    } catch {
      // A repository that moved or vanished grants nothing.
    }
  }
  return undefined
}
