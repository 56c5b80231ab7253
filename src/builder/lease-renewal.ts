import type { Logger } from '@libp2p/interface'
import type { SendJobMessage } from '../jobs/wire.js'
import type { BuilderStore } from './builder-store.js'

/**
 * Tells each author which of its jobs this builder holds, renewing their leases: one `lease`
 * message per author. Jobs whose result is not yet taken are still held: the author may be
 * fetching it.
 */
export async function renewLeases (store: BuilderStore, send: SendJobMessage, log: Logger): Promise<void> {
  const byAuthor = new Map<string, Array<{ job: string, round: number }>>()
  for (const job of [...store.inStates(['queued', 'fetching', 'setup', 'generating', 'testing']), ...store.outbox()]) {
    const list = byAuthor.get(job.author) ?? []
    list.push({ job: job.spec.id, round: job.spec.round })
    byAuthor.set(job.author, list)
  }
  await Promise.all([...byAuthor].map(async ([author, jobs]) => {
    await send(author, { type: 'lease', jobs }).catch(err => { log('lease renewal for %s failed - %e', author, err) })
  }))
}
