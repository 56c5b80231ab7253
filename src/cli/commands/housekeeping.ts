import type { Command } from 'commander'
import ms from 'ms'
import { commandContext } from '../context.js'
import { parseDuration } from '../options.js'
import { pc } from '../output.js'
import { DEFAULT_PRUNE_AGE_MS } from '../../author/constants.js'
import type { PruneView } from '../../daemon/views.js'

export function registerHousekeepingCommands (program: Command): void {
  program.command('prune')
    .description('forget old jobs: those accepted, rejected, failed or cancelled whose last change is older than --older-than, with their refs in the repository, attempts and logs; and, on a builder, the jobs it ran that are over')
    .option('--older-than <duration>', `how long since a job's last change, such as 14d, 12h or 30m (default: ${ms(DEFAULT_PRUNE_AGE_MS, { long: true })})`, parseDuration)
    .option('--force', 'also jobs still waiting for review (returned or merged)')
    .option('--dry-run', 'list what would go; remove nothing')
    .option('--json', 'print what was removed and kept as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh prune --dry-run\n  gitmesh prune --older-than 14d\n  gitmesh prune --older-than 2d --force --json | jq -r \'.removed[].name\'')
    .action(async (opts: { olderThan?: number, force?: boolean, dryRun?: boolean }, command: Command) => {
      const { out, call } = commandContext(command)
      const olderThanMs = opts.olderThan ?? DEFAULT_PRUNE_AGE_MS
      const view = await call<PruneView>('prune', { olderThanMs, force: opts.force === true, dryRun: opts.dryRun === true })
      out.result(view, () => {
        const verb = view.dryRun ? 'would remove' : 'removed'
        const lines = view.removed.map(job => `${verb} ${job.name} (${job.state}, last changed ${new Date(job.updatedAt).toISOString()})${job.refs.length > 0 ? `: ${job.refs.join(' ')}` : ''}${job.refsNote !== null ? pc.dim(` (${job.refsNote})`) : ''}`)
        lines.push(...view.builderJobs.map(job => `${verb} ${job.name} run here as a builder for …${job.author.slice(-6)} (${job.state})`))
        lines.push(...view.kept.map(job => pc.yellow(`kept ${job.name} (${job.state}): ${job.reason}`)))
        if (lines.length === 0) lines.push(`nothing older than ${ms(olderThanMs, { long: true })} to remove`)
        return lines
      })
    })
}
