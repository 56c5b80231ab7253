import type { Grant } from '../store/grant-store.js'
import type { ObjectStore } from '../git/object-store.js'
import { NotGrantedError } from './errors.js'
import { MAX_ANCESTRY_CHECKS } from './constants.js'

export interface Authorized {
  repo: string
  /** Haves the peer may use: roots granted to it in the same repository. */
  haves: string[]
}

/**
 * Decides whether every want is reachable from a root granted to the peer (the root itself or an
 * ancestor of it, in one repository). Ancestry checks share one budget per request, so no
 * request can make the server walk history without bound. The error says only "not granted",
 * whether or not the object exists, so a refusal leaks nothing.
 *
 * Haves count only when they are granted roots themselves: a fetcher's haves are the snapshots
 * it fetched before, and ignoring any other have costs bytes, never correctness.
 */
export async function authorizeWants (
  grants: readonly Grant[],
  wants: readonly string[],
  haves: readonly string[],
  openStore: (repo: string) => Promise<ObjectStore>
): Promise<Authorized> {
  let repo: string | undefined
  const budget = { checks: MAX_ANCESTRY_CHECKS }
  for (const want of wants) {
    const grant = grants.find(g => g.root === want && (repo === undefined || g.repo === repo)) ??
      await findAncestorGrant(grants, want, repo, openStore, budget)
    if (grant === undefined) throw new NotGrantedError(`${want} is not granted to you`)
    repo = grant.repo
  }
  const roots = new Set(grants.filter(g => g.repo === repo).map(g => g.root))
  return { repo: repo!, haves: haves.filter(have => roots.has(have)) }
}

async function findAncestorGrant (
  grants: readonly Grant[],
  oid: string,
  repo: string | undefined,
  openStore: (repo: string) => Promise<ObjectStore>,
  budget: { checks: number }
): Promise<Grant | undefined> {
  for (const grant of grants) {
    if (repo !== undefined && grant.repo !== repo) continue
    if (budget.checks <= 0) return undefined
    budget.checks--
    try {
      const store = await openStore(grant.repo)
      if (await store.isAncestor(oid, grant.root)) return grant
    } catch {
      // A repository that moved or vanished grants nothing.
    }
  }
  return undefined
}
