import type { BuilderJob } from './builder-store.js'

/** What the start order needs of a waiting job. */
export type WaitingJob = Pick<BuilderJob, 'author' | 'createdAt'> & { spec: Pick<BuilderJob['spec'], 'id' | 'priority'> }

/**
 * Waiting jobs in the order they will start (up to `limit`): fair across authors — the authors in
 * turn, in peer-id order, starting with the one after `lastAuthor` (the author whose job started
 * last) — and within an author the highest priority first, then the oldest. A builder serves
 * several authors: one author's high priorities never starve another's work.
 */
export function startOrder<T extends WaitingJob> (waiting: readonly T[], lastAuthor: string | undefined, limit = Number.POSITIVE_INFINITY): T[] {
  const byAuthor = new Map<string, T[]>()
  for (const job of waiting) {
    const list = byAuthor.get(job.author) ?? []
    list.push(job)
    byAuthor.set(job.author, list)
  }
  for (const list of byAuthor.values()) list.sort((a, b) => (b.spec.priority ?? 0) - (a.spec.priority ?? 0) || a.createdAt - b.createdAt)
  const authors = [...byAuthor.keys()].sort()
  const order: T[] = []
  let last = lastAuthor
  while (order.length < limit && authors.length > 0) {
    const after = last === undefined ? -1 : authors.findIndex(author => author > last!)
    const author = after === -1 ? authors[0]! : authors[after]!
    const list = byAuthor.get(author)!
    order.push(list.shift()!)
    if (list.length === 0) authors.splice(authors.indexOf(author), 1)
    last = author
  }
  return order
}
