import type { Logger } from '@libp2p/interface'
import { startChild } from '../process/child.js'
import { SHELL } from '../process/constants.js'
import { ownEnv } from '../process/environment.js'
import type { Job } from '../jobs/job.js'
import { HOOK_TIMEOUT_MS, MAX_HOOK_STDERR_CHARS, MAX_QUEUED_EVENTS, MAX_REMEMBERED_EVENTS, NOTIFY_TIMEOUT_MS } from './constants.js'
import { notifyCommand } from './desktop.js'
import { eventOf, notificationText, type HookEvent } from './events.js'

/** A command run on some events: `/bin/sh -c run`, the job's JSON on stdin. */
export interface Hook {
  on: HookEvent[]
  run: string
}

/** A hook or notification that did not succeed: the daemon goes on, and says so. */
export interface HookProblem {
  event: HookEvent
  job: string
  /** The hook's command, or `desktop notification`. */
  command: string
  problem: string
}

export interface NotifierInit {
  hooks?: Hook[]
  /** Raise a desktop notification where the system has one. @default true */
  notify?: boolean
  /** The job's JSON as `gitmesh show --json` prints it. */
  view: (job: Job) => object
  log: Logger
  /** Told of every hook or notification that failed, timed out or could not start. */
  onProblem?: (problem: HookProblem) => void
  /** @default HOOK_TIMEOUT_MS */
  hookTimeoutMs?: number
  /** @default process.platform */
  platform?: NodeJS.Platform
}

interface Pending {
  event: HookEvent
  job: Job
  input: string
}

/**
 * Runs the user's hooks and raises a desktop notification for the job changes that need the user
 * (see `eventOf`), once per job, round and event. Events wait in a bounded queue and are handled
 * one at a time, each event's hooks in order: hooks never run at once, and a slow one delays only
 * those after it. A hook that fails, hangs (its group is ended at the timeout) or cannot start is
 * reported and changes nothing else.
 */
export class Notifier {
  private readonly queue: Pending[] = []
  private readonly seen = new Set<string>()
  private draining?: Promise<void>
  private readonly stopping = new AbortController()

  constructor (private readonly init: NotifierInit) {}

  /** Hooks and notification to run for this change of `job`, if it is an event not seen yet. */
  onJob = (job: Job): void => {
    const event = eventOf(job)
    if (event === undefined || this.stopping.signal.aborted) return
    if (!this.remember(`${job.id}:${job.round}:${event}`)) return
    const hooks = this.hooksFor(event)
    if (hooks.length === 0 && this.init.notify === false) return
    if (this.queue.length >= MAX_QUEUED_EVENTS) {
      this.report({ event, job: job.name, command: 'hooks', problem: `skipped: ${MAX_QUEUED_EVENTS} events are already waiting for their hooks` })
      return
    }
    this.queue.push({ event, job, input: JSON.stringify({ ...this.init.view(job), event }) + '\n' })
    this.draining ??= this.drain().finally(() => { this.draining = undefined })
  }

  /** Stops taking events, drops those waiting and ends a running hook. Safe to call twice. */
  async stop (): Promise<void> {
    this.stopping.abort()
    this.queue.length = 0
    await this.draining
  }

  /** Resolves once every queued event was handled (tests, and a clean stop). */
  async idle (): Promise<void> {
    while (this.draining !== undefined) await this.draining
  }

  private hooksFor (event: HookEvent): Hook[] {
    return (this.init.hooks ?? []).filter(hook => hook.on.includes(event))
  }

  /** True the first time `key` is seen; the oldest keys are forgotten past MAX_REMEMBERED_EVENTS. */
  private remember (key: string): boolean {
    if (this.seen.has(key)) return false
    this.seen.add(key)
    if (this.seen.size > MAX_REMEMBERED_EVENTS) this.seen.delete(this.seen.values().next().value!)
    return true
  }

  private async drain (): Promise<void> {
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      if (this.init.notify !== false) await this.notifyDesktop(next)
      for (const hook of this.hooksFor(next.event)) {
        if (this.stopping.signal.aborted) return
        await this.runHook(hook, next)
      }
    }
  }

  private async notifyDesktop ({ event, job }: Pending): Promise<void> {
    const { title, body } = notificationText(event, job)
    const command = await notifyCommand(title, body, this.init.platform)
    if (command === undefined) return
    const problem = await runQuietly(command.file, command.args, { timeoutMs: NOTIFY_TIMEOUT_MS, signal: this.stopping.signal })
    if (problem !== undefined) this.report({ event, job: job.name, command: 'desktop notification', problem })
  }

  private async runHook (hook: Hook, { event, job, input }: Pending): Promise<void> {
    const env = { GITMESH_EVENT: event, GITMESH_JOB_ID: job.id, GITMESH_JOB_NAME: job.name }
    const problem = await runQuietly(SHELL, ['-c', hook.run], { timeoutMs: this.init.hookTimeoutMs ?? HOOK_TIMEOUT_MS, signal: this.stopping.signal, input, env, cwd: job.repo })
    if (problem !== undefined) this.report({ event, job: job.name, command: hook.run, problem })
    else this.init.log('hook %s ran for %s of %s', hook.run, event, job.name)
  }

  private report (problem: HookProblem): void {
    this.init.log.error('%s for %s of %s: %s', problem.command, problem.event, problem.job, problem.problem)
    this.init.onProblem?.(problem)
  }
}

/**
 * Runs the user's own command (their environment) with `input` on stdin, stdout ignored; returns
 * undefined when it exited 0, else what went wrong with the end of its stderr. Never throws.
 */
async function runQuietly (file: string, args: string[], options: { timeoutMs: number, signal: AbortSignal, input?: string, env?: Record<string, string>, cwd?: string }): Promise<string | undefined> {
  let running
  try {
    running = startChild({ file, args, cwd: options.cwd, env: ownEnv(options.env), stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', timeoutMs: options.timeoutMs, signal: options.signal })
  } catch (err) {
    return `could not start: ${(err as Error).message}`
  }
  let stderr = ''
  running.child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString('utf8')).slice(-MAX_HOOK_STDERR_CHARS) })
  // A hook that does not read its stdin closes the pipe: that is its business, not an error.
  running.child.stdin!.on('error', () => {})
  running.child.stdin!.end(options.input ?? '')
  try {
    const exit = await running.exit
    const said = stderr.trim() === '' ? '' : `: ${stderr.trim()}`
    if (exit.timedOut) return `timed out after ${options.timeoutMs} ms and was ended${said}`
    if (exit.cancelled) return `ended: the daemon is stopping${said}`
    if (exit.exitCode !== 0) return `${exit.exitCode === null ? `killed by ${exit.signal ?? 'a signal'}` : `exited ${exit.exitCode}`}${said}`
    return undefined
  } catch (err) {
    // The spawn failed: a missing program, or a job's repository that is gone (the cwd).
    return `could not start: ${(err as Error).message}`
  }
}
