import type { Command } from 'commander'
import { commandContext, type CommandContext } from '../context.js'
import { pc } from '../output.js'
import { wholeNumber } from '../options.js'
import { followDaemonEvents } from '../follow.js'
import type { JobView, LogChunkView, LogsView } from '../../daemon/views.js'
import { RUNNING } from '../../daemon/views.js'

interface LogsFlags { follow?: boolean, attempt?: number, round?: number, json?: boolean }

/** Prints chunks as they come, each once, in order: `seq` is the cursor. */
class LogPrinter {
  cursor = 0
  private last?: { attempt: number, step: string }
  private endsLine = true

  constructor (private readonly json: boolean, private readonly round: number, private readonly attempt: number | undefined) {}

  print (chunk: LogChunkView): void {
    if (chunk.seq <= this.cursor || chunk.round !== this.round) return
    this.cursor = chunk.seq
    if (this.attempt !== undefined && chunk.attempt !== this.attempt) return
    if (this.json) {
      process.stdout.write(JSON.stringify(chunk) + '\n')
      return
    }
    if (this.last?.attempt !== chunk.attempt || this.last.step !== chunk.step) {
      // A header on a line of its own, before each step's output.
      process.stdout.write(`${this.endsLine ? '' : '\n'}${pc.dim(`── attempt ${chunk.attempt} · ${chunk.step} ──`)}\n`)
      this.last = { attempt: chunk.attempt, step: chunk.step }
    }
    process.stdout.write(chunk.text)
    this.endsLine = chunk.text.endsWith('\n')
  }

  end (): void {
    if (!this.json && !this.endsLine) process.stdout.write('\n')
    this.endsLine = true
  }
}

/** Reads every chunk past the printer's cursor, page by page; returns the last page. */
async function catchUp (ctx: CommandContext, job: string, printer: LogPrinter, flags: LogsFlags, round: number): Promise<LogsView> {
  for (;;) {
    const page = await ctx.call<LogsView>('logs', { job, round, attempt: flags.attempt, from: printer.cursor })
    for (const chunk of page.chunks) printer.print(chunk)
    if (!page.more) return page
  }
}

function noteDropped (view: LogsView): void {
  for (const { attempt, bytes } of view.dropped) {
    process.stderr.write(pc.yellow(`note: attempt ${attempt} lost ${bytes} bytes of output (the oldest past the kept bound, or gone on the builder before it could send them)\n`))
  }
}

/**
 * Follows a job's live log until the job ends: each time the event stream is (re)subscribed —
 * at the start, and after a daemon restart — the chunks past the cursor are read, and the events
 * that arrived meanwhile wait; then events past the cursor are printed as they come.
 */
async function follow (ctx: CommandContext, first: LogsView, printer: LogPrinter, flags: LogsFlags): Promise<void> {
  const stop = new AbortController()
  let waiting: LogChunkView[] | undefined = []
  let failure: unknown
  const finish = (): void => { stop.abort() }
  const fail = (err: unknown): void => { failure ??= err; stop.abort() }
  const subscribed = (): void => {
    waiting = []
    catchUp(ctx, first.job, printer, flags, first.round).then(page => {
      const held = waiting ?? []
      waiting = undefined
      for (const chunk of held) printer.print(chunk)
      if (!page.running) finish()
    }, fail)
  }
  const onEvent = (event: Record<string, unknown>): void => {
    if (event.type === 'watching') return subscribed()
    if (event.type === 'log' && event.job === first.job) {
      const chunk = event.chunk as LogChunkView
      if (waiting !== undefined) waiting.push(chunk)
      else printer.print(chunk)
      return
    }
    if (event.type === 'job') {
      const job = event.job as JobView
      if (job.id !== first.job) return
      // Over, or a new round begun: what was stored before the change is read, then it ends.
      if (!RUNNING.includes(job.state) || job.round !== first.round) {
        waiting = []
        catchUp(ctx, first.job, printer, flags, first.round).then(finish, fail)
      }
    }
  }
  await followDaemonEvents(ctx, onEvent, {
    signal: stop.signal,
    logs: true,
    onDown: () => { process.stderr.write(`${pc.yellow('the daemon went away')}: following again when it is back…\n`) },
    onUp: () => { process.stderr.write('the daemon is back\n') }
  })
  if (failure !== undefined) throw failure
}

export function registerLogsCommand (program: Command): void {
  program.command('logs')
    .description('print a job\'s live output (setup, generator, tests) as its builder streamed it; -f follows it until the job ends')
    .argument('<job>', 'name, id, or a unique prefix of either')
    .option('-f, --follow', 'keep printing new output as it comes, until the job ends (survives a daemon restart)')
    .option('--attempt <n>', 'only this attempt', wholeNumber('--attempt'))
    .option('--round <n>', 'an earlier round of the job (default: the current one)', wholeNumber('--round'))
    .option('--json', 'print one JSON object per chunk (seq, round, builder, attempt, step, text, at)')
    .addHelpText('after', `
Examples:
  gitmesh logs validate-email
  gitmesh logs validate-email -f
  gitmesh logs validate-email --attempt 2
  gitmesh logs 3fa --round 1 --json | jq -r .text`)
    .action(async (query: string, flags: LogsFlags, command: Command) => {
      const ctx = commandContext(command)
      const first = await ctx.call<LogsView>('logs', { job: query, round: flags.round, attempt: flags.attempt, tail: 1 })
      noteDropped(first)
      const printer = new LogPrinter(ctx.out.json, first.round, flags.attempt)
      try {
        if (flags.follow === true && first.running) await follow(ctx, first, printer, flags)
        else await catchUp(ctx, first.job, printer, flags, first.round)
      } finally {
        printer.end()
      }
    })
}
