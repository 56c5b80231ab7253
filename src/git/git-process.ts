import { startChild } from '../process/child.js'
import { GIT_TIMEOUT_MS, SHELL } from '../process/constants.js'
import { gitEnv } from '../process/environment.js'
import { MAX_GIT_OUTPUT_BYTES } from './constants.js'
import { GitCommandError } from './errors.js'

export { gitEnv }

export interface RunGitOptions {
  cwd: string
  env?: NodeJS.ProcessEnv
  input?: string | Uint8Array
  /** Exit codes that are answers rather than failures (for example 1 from `merge-base --is-ancestor`). */
  okExitCodes?: number[]
  signal?: AbortSignal
  /** @default GIT_TIMEOUT_MS */
  timeoutMs?: number
}

export interface GitResult {
  stdout: Buffer
  exitCode: number
}

/** Runs one git command to completion and returns its stdout; a failure throws `GitCommandError`. */
export async function runGit (args: string[], options: RunGitOptions): Promise<GitResult> {
  return await runCollecting('git', args, args, options)
}

/**
 * Runs a fixed script of git commands (`git add -A && exec git write-tree`) through /bin/sh: one
 * process start from the daemon instead of one per command. Starting a process from a large
 * Node.js process costs milliseconds (its memory map is copied); from sh, next to nothing. The
 * script must hold no outside input: it is not quoted.
 */
export async function runGitScript (script: string, options: RunGitOptions): Promise<GitResult> {
  return await runCollecting(SHELL, ['-c', script], ['sh', '-c', script], options)
}

async function runCollecting (command: string, args: string[], label: string[], options: RunGitOptions): Promise<GitResult> {
  const timeoutMs = options.timeoutMs ?? GIT_TIMEOUT_MS
  const running = startChild({ file: command, args, cwd: options.cwd, env: options.env ?? gitEnv(), stdin: 'pipe', timeoutMs, signal: options.signal })
  const { child } = running
  const out: Buffer[] = []
  const err: Buffer[] = []
  let outBytes = 0
  let overflow = false
  child.stdout!.on('data', (chunk: Buffer) => {
    outBytes += chunk.length
    if (outBytes > MAX_GIT_OUTPUT_BYTES) {
      overflow = true
      void running.kill()
      return
    }
    out.push(chunk)
  })
  child.stderr!.on('data', (chunk: Buffer) => { err.push(chunk) })
  const closed = new Promise<void>(resolve => { child.once('close', () => { resolve() }) })
  child.stdin!.on('error', () => { /* the child may exit before reading all input; the exit code tells */ })
  child.stdin!.end(options.input ?? '')
  const exit = await running.exit
  await closed
  if (exit.cancelled) throw options.signal?.reason ?? new DOMException('This operation was aborted', 'AbortError')
  if (exit.timedOut) throw new GitCommandError(label, null, `timed out after ${timeoutMs} ms`)
  if (overflow) throw new GitCommandError(label, null, `printed more than ${MAX_GIT_OUTPUT_BYTES} bytes`)
  const exitCode = exit.exitCode ?? -1
  if (exitCode === 0 || options.okExitCodes?.includes(exitCode) === true) return { stdout: Buffer.concat(out), exitCode }
  throw new GitCommandError(label, exit.exitCode, Buffer.concat(err).toString('utf8'))
}

/** Runs git and returns trimmed stdout as text. */
export async function gitText (args: string[], options: RunGitOptions): Promise<string> {
  const { stdout } = await runGit(args, options)
  return stdout.toString('utf8').trim()
}
