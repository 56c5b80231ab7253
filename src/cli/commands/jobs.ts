import { usageText } from '../usage-text.js'
import { readFile } from 'node:fs/promises'
import { spawn } from 'node:child_process'
import path from 'node:path'
import type { Command } from 'commander'
import { commandContext, type CommandContext } from '../context.js'
import { pc, table, UsageError } from '../output.js'
import { collect, parseDuration, wholeNumber } from '../options.js'
import { offerFlagOptions, offerPrompt, type OfferFlags } from '../offer-flags.js'
import { EXIT } from '../exit-codes.js'
import { followDaemonEvents } from '../follow.js'
import { isDaemonAway } from '../../daemon/errors.js'
import { ENDED_STATES, JOB_STATES, type JobState } from '../../jobs/job.js'
import { RUNNING, type BuilderView, type JobView, type LogChunkView, type LogsView } from '../../daemon/views.js'
import { LOG_TAIL_LINES } from '../../logs/constants.js'

/** How long `offer --wait` waits for a job no builder can take before it gives up (exit 7). */
export const DEFAULT_UNPLACED_TIMEOUT_MS = 30_000

const STATE_COLORS: Partial<Record<JobState, (text: string) => string>> = {
  queued: pc.dim,
  returned: pc.cyan,
  merged: pc.magenta,
  accepted: pc.green,
  failed: pc.red,
  rejected: pc.yellow,
  cancelled: pc.dim
}

/** A duration as 42s, 3m07s or 2h05m. */
export function duration (ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`
  return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`
}

const shortPeer = (peer: string | null): string => peer === null ? '-' : `…${peer.slice(-6)}`

function resultText (job: JobView): string {
  if (job.waitingFor !== null) return pc.yellow(job.waitingFor.reason)
  if (job.blockedBy !== null && job.result === null) return pc.dim(job.blockedBy.reason)
  if (job.state === 'lost') return pc.yellow(job.reason ?? 'lost')
  if (job.result === null) return job.state === 'failed' ? pc.red(job.reason ?? 'failed') : '-'
  if (job.outsideOwns.length > 0) return `${job.result.commit.slice(0, 10)} ${pc.yellow(`outside owns: ${job.outsideOwns.length} paths`)}`
  return `${job.result.commit.slice(0, 10)} ${job.result.passed ? pc.green('tests pass') : pc.red('tests fail')}${candidatesNote(job)}`
}

/** Fan-out in the jobs table: how many results came, how many pass, how many builders run on. */
function candidatesNote (job: JobView): string {
  if (job.fanout <= 1 && job.candidates.length <= 1) return ''
  const passing = job.candidates.filter(c => c.passed).length
  const running = job.fanoutBuilders.length > 0 ? `, ${job.fanoutBuilders.length} running` : ''
  return pc.dim(` (${job.candidates.length} results, ${passing} pass${running})`)
}

/** Where a round runs: the snapshot commit and why that one. */
export function ranOnText (ranOn: JobView['ranOn']): string {
  if (ranOn === null) return 'chosen when its dependencies are ready'
  const commit = ranOn.commit.slice(0, 10)
  if (ranOn.kind === 'after-accept') return `${commit} (a snapshot taken once its dependencies were accepted)`
  if (ranOn.kind === 'stacked-on') return `${commit} (stacked on the result of ${ranOn.job ?? '?'}, round ${ranOn.round ?? '?'})`
  return `${commit} (the working tree when offered)`
}

/** Fan-out candidates side by side: tests, size of the change, builder's time. */
export function candidatesTable (job: JobView): string {
  return table(['#', 'builder', 'tests', 'files', '+', '-', 'time', ''], job.candidates.map(c => [
    String(c.number),
    shortPeer(c.builder),
    c.passed ? pc.green('pass') : pc.red('fail'),
    c.files === null ? '-' : String(c.files),
    c.added === null ? '-' : pc.green(`+${c.added}`),
    c.removed === null ? '-' : pc.red(`-${c.removed}`),
    c.ms === null ? '-' : `${(c.ms / 1000).toFixed(1)}s`,
    c.proposed ? 'proposed' : `gitmesh diff ${job.name}#${c.number}`
  ]))
}

/** One line per builder: its load as it last advertised it, and which of our jobs it holds. */
export function buildersLines (builders: BuilderView[]): string[] {
  return builders.map(b => {
    const load = b.reachable === false ? pc.dim('unreachable') : b.slots === null ? pc.dim('not asked yet') : `${b.running}/${b.slots} busy, ${b.queued} queued`
    return `builder ${shortPeer(b.peerId)}  ${load}${b.tags.length > 0 ? `  [${b.tags.join(', ')}]` : ''}${b.jobs.length > 0 ? `  ${pc.dim(b.jobs.join(', '))}` : ''}`
  })
}

/** `--state returned,merged --state failed` → the states, each checked against the job states. */
export function jobStates (values: string[]): JobState[] {
  const states = values.flatMap(value => value.split(',')).map(state => state.trim()).filter(state => state !== '')
  for (const state of states) {
    if (!(JOB_STATES as readonly string[]).includes(state)) throw new UsageError(`--state ${JSON.stringify(state)} is not a job state: one of ${JOB_STATES.join(', ')}`)
  }
  if (states.length === 0) throw new UsageError('--state needs a state')
  return [...new Set(states)] as JobState[]
}

export function jobsTable (jobs: JobView[]): string {
  if (jobs.length === 0) return 'no jobs yet: offer one with `gitmesh offer -m "…"`'
  // A usage column only when some job's agent reported tokens or cost: a plain generator reports none.
  const withUsage = jobs.some(job => job.usage !== null)
  return table(['name', 'state', 'builder', 'attempt', 'elapsed', ...(withUsage ? ['usage'] : []), 'result'], jobs.map(job => [
    job.overlaps.length > 0 ? `${job.name} ${pc.yellow(`⚠ owns overlap: ${job.overlaps.join(', ')}`)}` : job.name,
    (STATE_COLORS[job.state] ?? ((t: string) => t))(job.state),
    shortPeer(job.builder),
    job.attempt === 0 ? '-' : `${job.attempt}/${job.attemptsBudget}`,
    duration(job.elapsedMs),
    ...(withUsage ? [usageText(job.usage) || '-'] : []),
    resultText(job)
  ]))
}

/** The last non-empty line of a piece of output, or undefined when it has none. */
export function lastLineOf (text: string): string | undefined {
  const lines = text.split('\n').map(line => line.replace(/\r$/, '').trimEnd()).filter(line => line !== '')
  return lines.at(-1)
}

/** Under the table, while watching: each running job's latest line of output. */
function lastLinesText (jobs: JobView[], lastLines: ReadonlyMap<string, string>): string[] {
  return jobs.filter(job => RUNNING.includes(job.state) && lastLines.has(job.id))
    .map(job => `${job.name}  ${pc.dim(`│ ${lastLines.get(job.id)!.slice(0, 160)}`)}`)
}

export interface WaitForJobOptions {
  /** Called with every version of the job seen. */
  onChange?: (job: JobView) => void
  /** The states that end the wait. @default ENDED_STATES */
  states?: readonly JobState[]
  /** Give up once no builder could take the job for this long (it stays queued). */
  unplacedTimeoutMs?: number
  /** The daemon went away, and is back: the wait goes on across a restart. */
  onDown?: () => void
  onUp?: () => void
}

/**
 * Resolves with the job once it reaches one of `states` (by default, once it ended), or with
 * `unplaced` set when no builder could take it for `unplacedTimeoutMs`. A daemon restart meanwhile
 * is waited out.
 */
export async function waitForJob (ctx: CommandContext, id: string, options: WaitForJobOptions = {}): Promise<{ job: JobView, unplaced: boolean }> {
  const states = options.states ?? ENDED_STATES
  const stop = new AbortController()
  let giveUp: NodeJS.Timeout | undefined
  return await new Promise((resolve, reject) => {
    const finish = (job: JobView, unplaced: boolean): void => {
      clearTimeout(giveUp)
      stop.abort()
      resolve({ job, unplaced })
    }
    const fail = (err: unknown): void => {
      clearTimeout(giveUp)
      stop.abort()
      reject(err)
    }
    const look = (): void => { ctx.call<JobView>('show', { job: id }).then(check, fail) }
    const check = (job: JobView): void => {
      if (job.id !== id || stop.signal.aborted) return
      options.onChange?.(job)
      if (states.includes(job.state)) return finish(job, false)
      clearTimeout(giveUp)
      const limit = options.unplacedTimeoutMs
      if (limit === undefined || job.waitingFor === null) return
      if (job.waitingFor.sinceMs >= limit) return finish(job, true)
      // Nothing changes while nobody can take the job: look again when the time is up.
      giveUp = setTimeout(look, limit - job.waitingFor.sinceMs)
    }
    followDaemonEvents(ctx, event => { if (event.type === 'job') check(event.job as JobView) }, {
      signal: stop.signal,
      onDown: options.onDown,
      onUp: () => { options.onUp?.(); look() }
    }).catch(fail)
    // The job may have moved before the watch began: look once now.
    look()
  })
}

function jobOutcomeCode (job: JobView): number {
  if (job.state === 'failed' || job.state === 'cancelled' || job.state === 'rejected') return EXIT.jobFailed
  return job.result?.passed === true ? EXIT.ok : EXIT.jobFailed
}

export function registerJobCommands (program: Command): void {
  program.command('offer')
    .description('snapshot the working tree and offer a prompt to a builder; returns at once with the job\'s id and name')
    .option('--repo <dir>', 'the repository', '.')
    .option('-m, --message <text>', 'the prompt')
    .option('-f, --file <file>', 'read the prompt from a file')
    .option('--name <name>', 'name the job (kebab-case); default: derived from the prompt')
    .option('--attempts <n>', 'attempt budget (overrides gitmesh.json)', wholeNumber('--attempts'))
    .option('--test <command>', 'test command (overrides gitmesh.json)')
    .option('--after <name>', 'wait until this job is accepted (repeatable)', collect)
    .option('--owns <glob>', 'paths the job may change (repeatable); a result outside them needs accept --force', collect)
    .option('--priority <n>', 'higher runs first (-1000 to 1000, default 0)', wholeNumber('--priority'))
    .option('--fanout <k>', 'offer the job to k builders at once; all run to the end, each result a candidate', wholeNumber('--fanout'))
    .option('--fanout-stop-first', 'with --fanout: stop the other builders at the first passing result')
    .option('--stack', 'with one --after: start on that job\'s passing result before it is accepted; re-run if it is rejected')
    .option('--builder <peer-id-or-tag>', 'run only on these builders (repeatable)', collect)
    .option('--wait', 'wait until the job ends; exit 6 if it failed or its tests fail')
    .option('--unplaced-timeout <duration>', 'with --wait: give up (exit 7) once no builder could take the job for this long, e.g. 90s, 5m (default 30s)', parseDuration)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `
Examples:
  gitmesh offer -m "write a function to validate email addresses"
  gitmesh offer -f prompts/email.md --name email-validation --attempts 5 --wait
  gitmesh offer -m "fix the flaky date test" --test "npm test -- dates" --json
  gitmesh offer -f prompts/api.md --after data-model --owns 'src/api/**' --priority 5 --builder gpu
  gitmesh offer -f prompts/api-tests.md --after api --stack
  gitmesh offer -m "speed up the parser" --fanout 3`)
    .action(async (opts: OfferFlags & { repo: string, message?: string, file?: string, wait?: boolean, unplacedTimeout?: number }, command: Command) => {
      const ctx = commandContext(command)
      if ((opts.message === undefined) === (opts.file === undefined)) throw new UsageError('give the prompt with exactly one of -m TEXT or -f FILE')
      const options = offerFlagOptions(opts)
      let prompt = opts.message
      if (opts.file !== undefined) {
        try {
          prompt = await readFile(opts.file, 'utf8')
        } catch (err) {
          throw new UsageError(`cannot read the prompt file ${opts.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
        }
      }
      const job = await ctx.call<JobView>('offer', { repo: path.resolve(opts.repo), prompt: offerPrompt(prompt, opts.file), ...options })
      const problem = job.waitingFor !== null ? `no builder can take it yet: ${job.waitingFor.reason}` : undefined
      if (opts.wait !== true) {
        ctx.out.result({ id: job.id, name: job.name, state: job.state, snapshot: job.snapshot, waitingFor: job.waitingFor }, () =>
          [`offered ${pc.bold(job.name)} (${job.id})`, ...(problem !== undefined ? [pc.yellow(`⚠ ${problem}`)] : [])])
        return
      }
      if (!ctx.out.json) process.stdout.write(`offered ${pc.bold(job.name)} (${job.id})\n`)
      const { job: ended, unplaced } = await waitForJob(ctx, job.id, {
        unplacedTimeoutMs: opts.unplacedTimeout ?? DEFAULT_UNPLACED_TIMEOUT_MS,
        onChange: changed => {
          ctx.out.progress(`${changed.name}: ${changed.state}${changed.attempt > 0 ? ` (attempt ${changed.attempt}/${changed.attemptsBudget})` : ''}${changed.progress !== null ? ` ${changed.progress}` : ''}${changed.waitingFor !== null ? ` (${changed.waitingFor.reason})` : ''}`)
        },
        onDown: () => { process.stderr.write(`${pc.yellow('the daemon went away')}: waiting for it to come back…\n`) },
        onUp: () => { process.stderr.write('the daemon is back\n') }
      })
      ctx.out.endProgress()
      if (unplaced) {
        ctx.out.result(ended, () => `${ended.name}: still queued after ${duration(opts.unplacedTimeout ?? DEFAULT_UNPLACED_TIMEOUT_MS)}, no builder can take it: ${ended.waitingFor?.reason ?? 'unknown'}. It stays queued; \`gitmesh cancel ${ended.name}\` drops it`)
        process.exitCode = EXIT.unplaceable
        return
      }
      ctx.out.result(ended, () => `${ended.name}: ${ended.state}${ended.result !== null ? `, ${ended.result.summary} (${ended.result.commit.slice(0, 10)})` : ended.reason !== null ? `: ${ended.reason}` : ''}`)
      process.exitCode = jobOutcomeCode(ended)
    })

  program.command('jobs')
    .description('list jobs: name, state, builder, attempt, elapsed time, result; then each builder\'s load (with --watch, each running job\'s last line of output too)')
    .option('--repo <dir>', 'only jobs offered from this repository (any folder inside it)')
    .option('--state <states>', `only jobs in these states (repeatable, or a comma list): ${JOB_STATES.join(', ')}`, collect)
    .option('--since <duration>', 'only jobs changed within this long, such as 2d, 12h or 30m', parseDuration)
    .option('--watch', 'redraw live until interrupted')
    .option('--json', 'print the list as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh jobs\n  gitmesh jobs --watch\n  gitmesh jobs --repo . --state returned,merged --since 2d\n  gitmesh jobs --state failed --json | jq -r \'.[].name\'')
    .action(async (opts: { watch?: boolean, repo?: string, state?: string[], since?: number }, command: Command) => {
      const ctx = commandContext(command)
      const filter = {
        ...(opts.repo !== undefined ? { repo: path.resolve(opts.repo) } : {}),
        ...(opts.state !== undefined ? { states: jobStates(opts.state) } : {}),
        ...(opts.since !== undefined ? { sinceMs: opts.since } : {})
      }
      /** While watching: each running job's last line of output, from `log` events (and a first look). */
      const lastLines = new Map<string, string>()
      const draw = async (): Promise<void> => {
        const jobs = await ctx.call<JobView[]>('jobs', filter)
        if (ctx.out.json) {
          ctx.out.result(jobs, () => '')
          return
        }
        const builders = buildersLines(await ctx.call<BuilderView[]>('builders'))
        if (opts.watch === true) {
          await Promise.all(jobs.filter(job => RUNNING.includes(job.state) && !lastLines.has(job.id)).map(async job => {
            const view = await ctx.call<LogsView>('logs', { job: job.id, tail: 1 })
            const line = view.tail?.lines.at(-1)
            if (line !== undefined && line !== '') lastLines.set(job.id, line)
          }))
        }
        const text = [jobs.length === 0 && Object.keys(filter).length > 0 ? 'no jobs match' : jobsTable(jobs), ...lastLinesText(jobs, lastLines), ...builders].join('\n')
        if (opts.watch === true && process.stdout.isTTY) {
          process.stdout.write(`\x1b[H\x1b[2J${text}\n${pc.dim(`${new Date().toLocaleTimeString()} · ctrl-c to stop`)}\n`)
        } else {
          process.stdout.write(text + '\n')
        }
      }
      await draw()
      if (opts.watch !== true) return
      let pending = false
      // A redraw that fails for another reason than the daemon being away ends the watch with that error.
      const watching = new AbortController()
      let failure: unknown
      let away = false
      // Redraw on every change, at most a few times a second, and each second for the ages.
      const redraw = (): void => {
        if (pending || away) return
        pending = true
        setTimeout(() => {
          pending = false
          draw().catch(err => {
            if (isDaemonAway(err)) return // the event stream notices too, and waits for it
            failure ??= err
            watching.abort()
          })
        }, 100)
      }
      // On a terminal the table also redraws each second, for the ages; JSON only when something changed.
      const ticker = setInterval(() => { if (!ctx.out.json) redraw() }, 1000)
      try {
        await followDaemonEvents(ctx, event => {
          if (event.type === 'log') {
            // Output is for the table's last lines; JSON prints jobs, and only when they change.
            if (ctx.out.json) return
            const line = lastLineOf((event.chunk as LogChunkView).text)
            if (line !== undefined) lastLines.set(event.job as string, line)
          }
          redraw()
        }, {
          signal: watching.signal,
          logs: !ctx.out.json,
          onDown: () => {
            away = true
            process.stderr.write(`${pc.yellow('the daemon went away')}: reconnecting when it is back (ctrl-c to stop)…\n`)
          },
          onUp: () => {
            away = false
            process.stderr.write('reconnected to the daemon\n')
            redraw()
          }
        })
      } finally {
        clearInterval(ticker)
      }
      if (failure !== undefined) throw failure
    })

  program.command('show')
    .description('one job in full: prompt, state, attempts, result, the last lines of its live log (with --log, every attempt\'s log)')
    .argument('<job>', 'name, id, or a unique prefix of either')
    .option('--log', 'include the log of every attempt')
    .option('--json', 'print the job as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh show validate-email\n  gitmesh show 3fa --log\n  gitmesh show validate-email --json | jq .result.commit')
    .action(async (query: string, opts: { log?: boolean }, command: Command) => {
      const ctx = commandContext(command)
      const job = await ctx.call<JobView>('show', { job: query, log: opts.log === true })
      const live = ctx.out.json ? undefined : (await ctx.call<LogsView>('logs', { job: job.id, tail: LOG_TAIL_LINES })).tail
      ctx.out.result(job, () => {
        const lines = [
          `${pc.bold(job.name)} (${job.id})  ${job.state}${job.reason !== null ? `: ${job.reason}` : ''}`,
          `repository  ${job.repo}`,
          `snapshot    ${job.snapshot}`,
          `ran on      ${ranOnText(job.ranOn)}`,
          `builder     ${job.builder ?? '-'}`,
          `round       ${job.round}${job.attempt > 0 ? `, attempt ${job.attempt}/${job.attemptsBudget}` : ''}`
        ]
        if (job.setup !== null) lines.push(`setup       ${job.setup.command}${job.setup.key.length > 0 ? ` (cached by ${job.setup.key.join(', ')})` : ' (not cached: no setupKey)'}`)
        if (job.priority !== 0) lines.push(`priority    ${job.priority}`)
        if (job.after.length > 0) lines.push(`after       ${job.after.join(', ')}${job.stack ? ' (stacked: starts on its passing result)' : ''}`)
        if (job.owns.length > 0) lines.push(`owns        ${job.owns.join(' ')}`)
        if (job.blockedBy !== null) lines.push(`blocked     ${job.blockedBy.reason}`)
        if (job.waitingFor !== null) lines.push(pc.yellow(`waiting     no builder can take it: ${job.waitingFor.reason} (for ${duration(job.waitingFor.sinceMs)})`))
        if (job.result !== null) lines.push(`result      ${job.result.commit} (${job.result.passed ? 'tests pass' : 'tests fail'}): ${job.result.summary}`)
        if (job.outsideOwns.length > 0) lines.push(pc.yellow(`outside owns ${job.outsideOwns.join(', ')} (accept needs --force)`))
        if (job.candidates.length > 1 || job.fanout > 1) {
          const running = job.fanoutBuilders.length > 0 && job.result !== null ? `, ${job.fanoutBuilders.length} still running` : ''
          lines.push(`candidates  ${job.candidates.length} of ${job.fanout}${running}${job.fanoutStop === 'first-pass' ? ' (the others stop at the first pass)' : ''}`)
          if (job.candidates.length > 0) lines.push(...candidatesTable(job).split('\n').map(line => `  ${line}`))
        }
        if (job.merge !== null) lines.push(`merged      ${job.merge.paths.length} paths, ${job.merge.conflicts.length} conflicts${job.merge.conflicts.length > 0 ? `: ${job.merge.conflicts.join(', ')}` : ''}, tests ${job.merge.testPassed === true ? 'pass' : job.merge.testPassed === false ? 'fail' : 'running'} here`)
        if (job.acceptedCommit !== null) lines.push(`accepted    ${job.acceptedCommit}`)
        lines.push('', 'prompt:', ...job.prompt.split('\n').map(line => `  ${line}`))
        if (job.usage !== null) lines.push(`usage       ${usageText(job.usage)} (all attempts)`)
        for (const attempt of job.attempts) {
          const used = usageText(attempt)
          lines.push('', `attempt ${attempt.number}${job.round > 1 ? ` (round ${attempt.round})` : ''}: ${attempt.passed ? pc.green('passed') : pc.red('failed')} in ${(attempt.ms / 1000).toFixed(1)} s${used !== '' ? `, ${used}` : ''}`)
          if (attempt.log !== undefined) lines.push(...attempt.log.trimEnd().split('\n').map(line => `  ${pc.dim('│')} ${line}`))
        }
        if (live !== undefined && live !== null) {
          lines.push('', `live log, attempt ${live.attempt} (last lines; all of it: gitmesh logs ${job.name}):`, ...live.lines.map(line => `  ${pc.dim('│')} ${line}`))
        }
        if (job.merge?.testOutput !== undefined) {
          lines.push('', 'tests on the merged working tree:', ...job.merge.testOutput.trimEnd().split('\n').map(line => `  ${pc.dim('│')} ${line}`))
        }
        return lines
      })
    })

  program.command('diff')
    .description('show the change S → B of a job, in git\'s diff format')
    .argument('<job>', 'name, id, or a unique prefix of either; JOB#N for its Nth candidate result')
    .addHelpText('after', '\nExamples:\n  gitmesh diff validate-email\n  gitmesh diff validate-email#2     the second result that arrived for it\n  gitmesh diff validate-email | less -R')
    .action(async (query: string, _opts, command: Command) => {
      const ctx = commandContext(command)
      const [name, candidateText] = query.split('#')
      const job = await ctx.call<JobView>('show', { job: name })
      let commit = job.result?.commit
      if (candidateText !== undefined) {
        const candidate = job.candidates.find(c => String(c.number) === candidateText)
        if (candidate === undefined) throw new UsageError(`${job.name} has no candidate #${candidateText} (it has ${job.candidates.length})`)
        commit = candidate.commit
      }
      if (commit === undefined) throw new UsageError(`${job.name} has no result yet (it is ${job.state})`)
      const color = process.stdout.isTTY && process.env.NO_COLOR === undefined ? 'always' : 'never'
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn('git', ['--no-pager', 'diff', `--color=${color}`, job.snapshot, commit], { cwd: job.repo, stdio: 'inherit' })
        child.on('error', reject)
        child.on('close', c => { resolve(c ?? 1) })
      })
      if (code !== 0) process.exitCode = EXIT.failure
    })

  program.command('merge')
    .description('snapshot the working tree (W0), merge the job\'s change S → B into it three-way, then run the tests')
    .argument('<job>', 'name, id, or a unique prefix of either')
    .option('--json', 'print the job as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh merge validate-email\n  gitmesh merge validate-email --json | jq .merge.conflicts')
    .action(async (query: string, _opts, command: Command) => {
      const ctx = commandContext(command)
      const job = await ctx.call<JobView>('merge', { job: query })
      ctx.out.result(job, () => {
        const merge = job.merge!
        const lines = [`merged ${pc.bold(job.name)}: ${merge.paths.length} path${merge.paths.length === 1 ? '' : 's'} changed (W0 ${merge.w0?.slice(0, 10) ?? '-'})`]
        if (merge.conflicts.length > 0) lines.push(pc.yellow(`${merge.conflicts.length} conflict${merge.conflicts.length === 1 ? '' : 's'} (standard markers):`), ...merge.conflicts.map(p => `  ${p}`))
        lines.push(merge.testPassed === true ? pc.green(`tests pass here (${job.name})`) : pc.red(`tests fail here: see \`gitmesh show ${job.name} --log\``))
        lines.push(`next: \`gitmesh accept ${job.name}\` to commit it, or \`gitmesh reject ${job.name} [-m "…"]\` to restore W0`)
        return lines
      })
    })

  program.command('accept')
    .description('commit exactly the job\'s change on top of HEAD; your own uncommitted edits stay uncommitted')
    .argument('<job>', 'name, id, or a unique prefix of either')
    .option('--force', 'accept even though the result changed paths outside the job\'s owns, or conflict markers are still in the merged files')
    .option('--with-my-edits', 'commit the files whose change cannot be kept apart from your own edits as they stand, your edits there included')
    .option('--json', 'print the job as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh accept validate-email\n  gitmesh accept validate-email --force\n  gitmesh accept validate-email --with-my-edits\n  gitmesh accept validate-email --json | jq -r .acceptedCommit')
    .action(async (query: string, opts: { force?: boolean, withMyEdits?: boolean }, command: Command) => {
      const ctx = commandContext(command)
      const job = await ctx.call<JobView>('accept', { job: query, force: opts.force === true, withMyEdits: opts.withMyEdits === true })
      ctx.out.result(job, () => `accepted ${pc.bold(job.name)} as ${job.acceptedCommit}`)
    })

  program.command('reject')
    .description('restore the working tree to W0; with -m, offer the job again with the prompt extended')
    .argument('<job>', 'name, id, or a unique prefix of either')
    .option('-m, --message <text>', 'what to do differently: appended to the prompt, and the job is offered again')
    .option('--json', 'print the job as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh reject validate-email\n  gitmesh reject validate-email -m "also accept plus addressing (a+b@c.d)"')
    .action(async (query: string, opts: { message?: string }, command: Command) => {
      const ctx = commandContext(command)
      const job = await ctx.call<JobView>('reject', { job: query, message: opts.message })
      ctx.out.result(job, () => job.state === 'queued' ? `rejected ${pc.bold(job.name)}; offered again as round ${job.round}` : `rejected ${pc.bold(job.name)}; working tree restored`)
    })

  program.command('cancel')
    .description('stop a job wherever it is, on its builder too')
    .argument('<job>', 'name, id, or a unique prefix of either')
    .option('--json', 'print the job as JSON')
    .addHelpText('after', '\nExample:\n  gitmesh cancel validate-email')
    .action(async (query: string, _opts, command: Command) => {
      const ctx = commandContext(command)
      const job = await ctx.call<JobView>('cancel', { job: query })
      ctx.out.result(job, () => `cancelled ${job.name}`)
    })

  program.command('generate-blocks')
    .description('the built-in generator: write the fenced code blocks of $GITMESH_PROMPT_FILE whose info string names a path (```ts path=src/x.ts)')
    .addHelpText('after', '\nUsed by `gitmesh daemon --builder` when no --generate is given. Later blocks for a path win,\nso a failing test that prints a corrected block makes the next attempt apply it.')
    .action(async () => {
      const { main } = await import('../../generators/fenced-blocks.js')
      process.exitCode = await main()
    })
}
