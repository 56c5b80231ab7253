import { mkdir, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { commandContext } from '../context.js'
import { pc, UsageError } from '../output.js'
import type { SubmittedTaskView } from '../../daemon/views.js'
import { kebabName } from '../../jobs/naming.js'
import { ACTIVE_STATES } from '../../jobs/job.js'
import { isDaemonAway } from '../../daemon/errors.js'
import type { PromptFile } from '../../watch/prompt-file.js'
import { waitForDaemon } from '../follow.js'

/** A task's job name: its front matter's, else its file's name as kebab-case. */
function taskName (file: string, given: string | undefined): string {
  if (given !== undefined) return given
  return kebabName(path.basename(file).replace(/\.[^.]*$/, '')) || 'task'
}

export function registerWatchCommand (program: Command): void {
  program.command('watch')
    .description('offer each prompt file of a folder as a task when it is saved (default .gitmesh/prompts/), until interrupted')
    .argument('[path]', 'a prompt file or a folder of them (default: .gitmesh/prompts in the repository)')
    .option('--repo <dir>', 'the repository', '.')
    .option('--json', 'print one JSON object per event')
    .addHelpText('after', `
A prompt file is Markdown with optional YAML front matter:

  ---
  name: email-validation
  after: [user-model]
  owns: ["src/email/**"]
  priority: 5
  fanout: 2
  attempts: 3
  builders: [gpu]
  stack: false         # true: start on the after: job's passing result
  fanout_stop: none    # first-pass: stop the other builders at the first pass
  ---
  Write a function to validate email addresses …

Saving a file (only when its content changed) snapshots the working tree and offers it; saving it
again while its job runs cancels that round and offers the new version as the next round.

Examples:
  gitmesh watch
  gitmesh watch prompts/ --repo ~/src/app
  gitmesh watch .gitmesh/prompts/email.md --json`)
    .action(async (target: string | undefined, opts: { repo: string }, command: Command) => {
      const ctx = commandContext(command)
      const { PromptWatcher, DEFAULT_PROMPTS_DIR } = await import('../../watch/index.js')
      const { locateRepository } = await import('../../git/repository.js')
      const repo = (await locateRepository(opts.repo)).workTree!
      const watched = path.resolve(target ?? path.join(repo, DEFAULT_PROMPTS_DIR))
      if (target === undefined) await mkdir(watched, { recursive: true })
      else await stat(watched).catch(() => { throw new UsageError(`${target} does not exist: give a prompt file or a folder of them`) })
      // Fails now, with exit code 3, if no daemon runs: before anything is watched.
      await ctx.call('id')
      const say = (event: Record<string, unknown>, text: string): void => {
        process.stdout.write((ctx.out.json ? JSON.stringify(event) : `${pc.dim(new Date().toLocaleTimeString())} ${text}`) + '\n')
      }
      const relative = (file: string): string => path.relative(process.cwd(), file) || file
      const submit = async (task: PromptFile, name: string): Promise<void> => {
        const job = await ctx.call<SubmittedTaskView>('submit-task', {
          repo,
          prompt: task.prompt,
          name,
          attempts: task.attempts,
          priority: task.priority,
          after: task.after,
          owns: task.owns,
          fanout: task.fanout,
          builders: task.builders,
          stack: task.stack,
          fanoutStop: task.fanout_stop
        })
        if (job.unchanged) {
          say({ event: 'unchanged', file: task.file, job: job.name, id: job.id, round: job.round }, pc.dim(`${relative(task.file)}: ${job.name} already has this version (${job.state})`))
          return
        }
        const verb = job.replaced === null ? 'offered' : ['queued', 'lost', ...ACTIVE_STATES].includes(job.replaced) ? `re-offered (round ${job.round}, the running round cancelled)` : `re-offered (round ${job.round})`
        const warning = job.waitingFor !== null ? pc.yellow(` ⚠ no builder can take it yet: ${job.waitingFor.reason}`) : ''
        say({ event: job.replaced === null ? 'offered' : 're-offered', file: task.file, job: job.name, id: job.id, round: job.round, waitingFor: job.waitingFor }, `${verb} ${pc.bold(job.name)} from ${relative(task.file)}${warning}`)
      }
      const watcher = new PromptWatcher({
        path: watched,
        onTask: async (task, { signal }) => {
          const name = taskName(task.file, task.name)
          // A save while the daemon is away (stopped, restarting) is offered once it is back.
          for (;;) {
            try {
              await submit(task, name)
              return
            } catch (err) {
              if (!isDaemonAway(err)) {
                say({ event: 'error', file: task.file, message: (err as Error).message }, `${pc.red('error')} ${relative(task.file)}: ${(err as Error).message}`)
                return
              }
            }
            say({ event: 'daemon-down', file: task.file }, pc.yellow(`the daemon is not running: ${relative(task.file)} will be offered when it is back`))
            if (!await waitForDaemon(ctx, signal)) return
          }
        },
        onError: (err, file) => {
          say({ event: 'error', file, message: err.message }, `${pc.red('error')} ${err.message.startsWith(file) ? err.message : `${relative(file)}: ${err.message}`}`)
        },
        onRemove: file => { say({ event: 'removed', file }, `${relative(file)} removed (its job is left as it is)`) },
        onUnchanged: file => { say({ event: 'unchanged', file }, pc.dim(`${relative(file)} saved without changes`)) }
      })
      await watcher.start()
      say({ event: 'watching', path: watched, repo }, `watching ${relative(watched)} (ctrl-c to stop)`)
      await new Promise<void>(resolve => {
        const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve() }
        process.on('SIGINT', stop)
        process.on('SIGTERM', stop)
      })
      await watcher.stop()
    })
}
