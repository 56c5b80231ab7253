import { z } from 'zod'
import type { Author } from '../author/author.js'
import { pruneJobs } from '../author/prune.js'
import type { BuilderStore } from '../builder/builder-store.js'
import type { Exchange } from '../exchange/exchange.js'
import { parseMessage } from '../wire/channel.js'
import { InvalidRequestError } from './errors.js'
import type { ControlMethod } from './control-server.js'
import type { PruneView } from './views.js'

const pruneParams = z.object({
  olderThanMs: z.number().int().nonnegative(),
  force: z.boolean().optional(),
  dryRun: z.boolean().optional()
})

/** `prune`: forgets old jobs, as the author and as a builder. */
export function housekeepingMethods (author: Author, builderJobs: BuilderStore, exchange: Pick<Exchange, 'openStore'>): Record<string, ControlMethod> {
  return {
    prune: async (raw): Promise<PruneView> => {
      let p: z.infer<typeof pruneParams>
      try {
        p = parseMessage(pruneParams, raw)
      } catch (err) {
        throw new InvalidRequestError((err as Error).message.replace(/^invalid /, ''))
      }
      const now = Date.now()
      const { removed, kept } = await pruneJobs(author.jobs, {
        olderThanMs: p.olderThanMs,
        force: p.force,
        dryRun: p.dryRun,
        now,
        // The exchange offers commits under refs/gitmesh/ as haves: it must not offer a pruned one.
        refsDeleted: async repo => { (await exchange.openStore(repo)).forgetGitmeshRefs() },
        deleted: id => { author.logs?.deleteJob(id) }
      })
      const built = builderJobs.pruneFinished(now - p.olderThanMs, p.dryRun === true)
      return {
        dryRun: p.dryRun === true,
        olderThanMs: p.olderThanMs,
        removed: removed.map(job => ({ ...job, refsNote: job.refsNote ?? null })),
        kept,
        builderJobs: built
      }
    }
  }
}
