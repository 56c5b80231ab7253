import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { KILL_GRACE_MS, MAX_TIMER_MS } from './constants.js'
import { GroupKiller } from './process-group.js'

export interface ChildInit {
  file: string
  args: readonly string[]
  cwd?: string
  /** Built by one of environment.ts's rules: `gitEnv`, `scrubbedEnv` or `ownEnv`. */
  env: NodeJS.ProcessEnv
  /** What the child reads: a pipe the caller writes, or nothing. */
  stdin: 'pipe' | 'ignore'
  stdout?: 'pipe' | 'ignore'
  stderr?: 'pipe' | 'ignore'
  /** The child and its group are ended after this long; undefined only for long-lived helpers (`cat-file --batch`). */
  timeoutMs: number | undefined
  /** Ends the child and its group. */
  signal?: AbortSignal
  /** @default KILL_GRACE_MS */
  killGraceMs?: number
}

export interface ChildExit {
  /** The exit code; null when the child was ended by a signal. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  cancelled: boolean
}

export interface RunningChild {
  child: ChildProcess
  /** The child's pid, which is also its process group's id. */
  pid: number
  /**
   * Resolves once the child exited and whatever it left running in its group was ended; rejects
   * only when the child could not be started.
   */
  exit: Promise<ChildExit>
  /** Ends the child's whole group now (SIGTERM, then SIGKILL after the grace). */
  kill: () => Promise<void>
}

/** A running child whose stdin, stdout and stderr are all pipes. */
export interface PipedChild extends RunningChild {
  child: ChildProcessWithoutNullStreams
}

/** startChild with every stream a pipe, typed so: for the git plumbing that is fed and read. */
export function startPipedChild (init: Omit<ChildInit, 'stdin' | 'stdout' | 'stderr'>): PipedChild {
  const running = startChild({ ...init, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' })
  // spawn's stdio array is built at run time, so its type cannot say what it is: three pipes.
  return running as PipedChild
}

/**
 * Starts every child process of gitmesh by the same rules: it leads a process group of its own,
 * which is ended whole (SIGTERM, then SIGKILL after `killGraceMs`) on timeout or abort; once the
 * child exits by itself, whatever it left running in its group (`sleep 30 &`) is ended the same
 * way, so nothing outlives the call. Only a process that moves to a new session (`setsid`)
 * escapes. Its environment is one of environment.ts's rules.
 */
export function startChild (init: ChildInit): RunningChild {
  const child = spawn(init.file, init.args, {
    cwd: init.cwd,
    env: init.env,
    detached: true,
    stdio: [init.stdin, init.stdout ?? 'pipe', init.stderr ?? 'pipe']
  })
  const started = new Promise<number>((resolve, reject) => {
    // Only a failed spawn emits `error` here: signals are sent with process.kill, not child.kill.
    child.once('error', reject)
    child.once('spawn', () => { resolve(child.pid!) })
  })
  const exited = new Promise<[number | null, NodeJS.Signals | null]>(resolve => {
    child.once('exit', (code, signal) => { resolve([code, signal]) })
  })
  const group = child.pid !== undefined ? new GroupKiller(child.pid, init.killGraceMs ?? KILL_GRACE_MS) : undefined
  let leaderExited = false
  let timedOut = false
  let cancelled = false
  const timer = init.timeoutMs === undefined
    ? undefined
    : setTimeout(() => {
      if (leaderExited) return
      timedOut = true
      void group?.kill()
    }, Math.max(0, Math.min(init.timeoutMs, MAX_TIMER_MS)))
  const onAbort = (): void => {
    if (leaderExited) return
    cancelled = true
    void group?.kill()
  }
  if (init.signal?.aborted === true) onAbort()
  else init.signal?.addEventListener('abort', onAbort, { once: true })

  const exit = (async (): Promise<ChildExit> => {
    try {
      await started
      const [exitCode, signal] = await exited
      leaderExited = true
      clearTimeout(timer)
      await group?.kill()
      return { exitCode, signal, timedOut, cancelled }
    } finally {
      clearTimeout(timer)
      init.signal?.removeEventListener('abort', onAbort)
    }
  })()
  return {
    child,
    pid: child.pid ?? -1,
    exit,
    kill: async () => { await group?.kill() }
  }
}
