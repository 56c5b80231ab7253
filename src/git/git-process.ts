import { spawn } from 'node:child_process'
import { MAX_GIT_OUTPUT_BYTES } from './constants.js'
import { GitCommandError } from './errors.js'

export interface RunGitOptions {
  cwd: string
  env?: NodeJS.ProcessEnv
  input?: string | Uint8Array
  /** Exit codes that are answers rather than failures (for example 1 from `merge-base --is-ancestor`). */
  okExitCodes?: number[]
  signal?: AbortSignal
}

export interface GitResult {
  stdout: Buffer
  exitCode: number
}

/**
 * Environment for every git child: no pager, no prompts, no locale surprises, and the caller's
 * GIT_DIR/GIT_INDEX_FILE variables removed so they cannot redirect us to another repository.
 */
export function gitEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_CEILING_DIRECTORIES', 'GIT_NAMESPACE']) {
    delete env[key]
  }
  return { ...env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C', ...extra }
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
  return await runCollecting('/bin/sh', ['-c', script], ['sh', '-c', script], options)
}

async function runCollecting (command: string, args: string[], label: string[], options: RunGitOptions): Promise<GitResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? gitEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
      signal: options.signal
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let outBytes = 0
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length
      if (outBytes > MAX_GIT_OUTPUT_BYTES) {
        child.kill()
        return
      }
      out.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => { err.push(chunk) })
    child.on('error', reject)
    child.on('close', (code) => {
      const exitCode = code ?? -1
      if (exitCode === 0 || options.okExitCodes?.includes(exitCode) === true) {
        resolve({ stdout: Buffer.concat(out), exitCode })
      } else {
        reject(new GitCommandError(label, code, Buffer.concat(err).toString('utf8')))
      }
    })
    child.stdin.on('error', () => { /* the child may exit before reading all input; the exit code tells */ })
    child.stdin.end(options.input ?? '')
  })
}

/** Runs git and returns trimmed stdout as text. */
export async function gitText (args: string[], options: RunGitOptions): Promise<string> {
  const { stdout } = await runGit(args, options)
  return stdout.toString('utf8').trim()
}
