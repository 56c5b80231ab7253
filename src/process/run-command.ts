import { isUtf8 } from 'node:buffer'
import { constants as fsConstants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { StringDecoder } from 'node:string_decoder'
import type { Readable } from 'node:stream'
import { DEFAULT_MAX_OUTPUT_BYTES, MAX_TIMER_MS, OUTPUT_DRAIN_MS, SHELL } from './constants.js'
import { startChild } from './child.js'
import { scrubbedEnv } from './environment.js'
import { CommandCwdError, CommandSpawnError } from './errors.js'

/** Masks output that arrives in chunks, so that a secret split across two chunks is still hidden (src/builder/secret-mask.ts). */
export interface OutputMasker {
  /** Takes the next chunk; returns the masked text that can go out now (maybe ''). */
  push: (chunk: string) => string
  /** The output ended: returns whatever was held back, masked. */
  end: () => string
}

export interface RunCommandOptions {
  /** A shell command line, run with `/bin/sh -c`. */
  command: string
  cwd: string
  /** Extra variables (`GITMESH_*`), added to `baseEnv`. */
  env: Record<string, string>
  /**
   * The environment `env` is added to: a builder's configured one (src/builder/command-env.ts).
   * @default scrubbedEnv()
   */
  baseEnv?: Record<string, string>
  /**
   * Masks the output as it arrives (secrets become `***`), before it is kept or given to
   * `onOutput`: a secret split across chunks, or cut by the output cap, still never shows.
   * @default the output unchanged
   */
  maskOutput?: OutputMasker
  timeoutMs: number
  /**
   * The group is killed once the command has written nothing for this long (an agent waiting on
   * a prompt it will never get, a hung network call), however much of `timeoutMs` is left; the
   * outcome then says `idleTimedOut`.
   * @default none: only `timeoutMs` bounds the command
   */
  idleTimeoutMs?: number
  /**
   * Bytes of combined output kept: the tail, since a test runner's summary comes last.
   * @default DEFAULT_MAX_OUTPUT_BYTES
   */
  maxOutputBytes?: number
  /**
   * Time between SIGTERM and SIGKILL when the group is killed.
   * @default KILL_GRACE_MS (constants.ts)
   */
  killGraceMs?: number
  /** Cancels the command: its whole process group is killed. */
  signal?: AbortSignal
  /** Live output as decoded text in arrival order, in chunks as they come (not split into lines). */
  onOutput?: (chunk: string) => void
  /**
   * Live output as the pipe's bytes, for a consumer that sends them on (no decoding to text):
   * valid UTF-8, each chunk cut between characters (invalid bytes become U+FFFD, as in text).
   * Used instead of `onOutput` when there is no `maskOutput` (masking works on text).
   */
  onOutputBytes?: (chunk: Buffer) => void
  /** Called with the process group id once the command runs (so a crash can be cleaned up later). */
  onSpawn?: (pgid: number) => void
}

export interface CommandOutcome {
  /** The shell's exit code; null when it was ended by a signal. */
  exitCode: number | null
  /** The signal that ended the shell (`SIGTERM`, `SIGKILL`), or null. */
  signal: NodeJS.Signals | null
  timedOut: boolean
  /** Killed because it wrote nothing for `idleTimeoutMs` (then `timedOut` is false). */
  idleTimedOut: boolean
  cancelled: boolean
  ms: number
  /** Combined stdout and stderr: the last `maxOutputBytes` bytes, with a one-line note first when truncated. */
  output: string
  truncated: boolean
}

/**
 * Joins stderr to stdout inside the child, so both share one pipe and the combined output keeps
 * the exact order it was written in; `exec` keeps the shell's pid, so it still leads the group.
 */
const JOIN_STDERR_SCRIPT = `exec ${SHELL} -c "$1" 2>&1`

/**
 * Runs a generator or test command in `cwd` and reports how it ended; a failing, missing
 * (exit 127), timed-out or cancelled command is an outcome, not an error. Throws only when `cwd`
 * is unusable (`CommandCwdError`) or no shell can be started (`CommandSpawnError`).
 *
 * The command leads a process group of its own. On timeout or abort the whole group gets
 * SIGTERM, then SIGKILL after `killGraceMs`; when the command exits by itself, whatever it left
 * running in its group (`sleep 30 &`) is ended the same way, so nothing outlives the call. Only a
 * process that moves to a new session (`setsid`) escapes; it also stops being waited for.
 * stdin is /dev/null and the environment is `options.env` over `options.baseEnv` (default `scrubbedEnv()`).
 *
 * @example
 * const outcome = await runCommand({ command: 'npm test', cwd: worktree, env: { GITMESH_JOB: id }, timeoutMs: 300_000 })
 * if (outcome.exitCode !== 0) prompt += outcome.output
 */
export async function runCommand (options: RunCommandOptions): Promise<CommandOutcome> {
  await checkWorkingDirectory(options.cwd)
  const started = performance.now()
  const elapsed = (): number => Math.round(performance.now() - started)
  const idle = new IdleTimer(options.idleTimeoutMs)
  const onBytes = options.onOutputBytes
  const output = new OutputTail(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, chunk => {
    idle.touch()
    if (typeof chunk === 'string') options.onOutput?.(chunk)
    else if (onBytes !== undefined) onBytes(chunk)
    else options.onOutput?.(chunk.toString('utf8'))
  }, options.maskOutput)
  if (options.signal?.aborted === true) {
    return { exitCode: null, signal: null, timedOut: false, idleTimedOut: false, cancelled: true, ms: elapsed(), ...output.finish() }
  }

  const running = startChild({
    file: SHELL,
    args: ['-c', JOIN_STDERR_SCRIPT, 'gitmesh', options.command],
    cwd: options.cwd,
    env: { ...(options.baseEnv ?? scrubbedEnv()), ...options.env },
    stdin: 'ignore',
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    killGraceMs: options.killGraceMs
  })
  const { child } = running
  const pipesClosed = Promise.all([output.read(child.stdout!), output.read(child.stderr!)])
  if (child.pid !== undefined) options.onSpawn?.(child.pid)
  idle.start(() => { void running.kill() })
  let ended
  try {
    ended = await running.exit
  } catch (err) {
    child.stdout?.destroy()
    child.stderr?.destroy()
    throw new CommandSpawnError(options.command, err)
  } finally {
    idle.stop()
  }
  if (!await settlesWithin(pipesClosed, OUTPUT_DRAIN_MS)) {
    child.stdout?.destroy()
    child.stderr?.destroy()
    await pipesClosed
  }
  // A kill for silence is not a kill for the total time; either may come first, never both.
  const idleTimedOut = idle.fired && !ended.timedOut && !ended.cancelled
  return { ...ended, idleTimedOut, ms: elapsed(), ...output.finish() }
}

/** Fires once when `touch` has not been called for `ms` after `start`; a no-op without `ms`. */
class IdleTimer {
  fired = false
  #timer: NodeJS.Timeout | undefined
  #onIdle: (() => void) | undefined

  constructor (private readonly ms: number | undefined) {}

  start (onIdle: () => void): void {
    if (this.ms === undefined) return
    this.#onIdle = onIdle
    this.touch()
  }

  touch (): void {
    if (this.#onIdle === undefined || this.fired) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.fired = true
      this.#onIdle?.()
    }, Math.max(0, Math.min(this.ms!, MAX_TIMER_MS)))
  }

  stop (): void {
    clearTimeout(this.#timer)
    this.#onIdle = undefined
  }
}

async function checkWorkingDirectory (cwd: string): Promise<void> {
  let isDirectory: boolean
  try {
    isDirectory = (await stat(cwd)).isDirectory()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new CommandCwdError(cwd, code === 'ENOENT' ? 'no such directory' : (err as Error).message)
  }
  if (!isDirectory) throw new CommandCwdError(cwd, 'not a directory')
  try {
    await access(cwd, fsConstants.X_OK)
  } catch {
    throw new CommandCwdError(cwd, 'permission denied')
  }
}

/** Resolves true when `promise` settles within `ms`, false otherwise; never leaves a timer behind. */
async function settlesWithin (promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise.then(() => true, () => true),
      new Promise<boolean>(resolve => { timer = setTimeout(() => { resolve(false) }, ms) })
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Combined output, capped: only the newest chunks that make up `maxBytes` are held. With a masker
 * it is decoded per stream (a multi-byte character split between chunks stays whole) and masked;
 * without one the pipe's bytes are kept and handed on as they are, cut between characters, and
 * decoded only at the end.
 */
class OutputTail {
  readonly #chunks: Array<{ text: string | Buffer, bytes: number }> = []
  #first = 0
  #keptBytes = 0
  #seenBytes = 0

  constructor (private readonly maxBytes: number, private readonly onOutput?: (chunk: string | Buffer) => void, private readonly masker?: OutputMasker) {}

  /** Reads `stream` to its end; resolves when it closes. */
  async read (stream: Readable): Promise<void> {
    if (this.masker !== undefined) {
      const decoder = new StringDecoder('utf8')
      stream.on('data', (chunk: Buffer) => { this.#keep(this.masker!.push(decoder.write(chunk))) })
      await closed(stream, () => { this.#keep(this.masker!.push(decoder.end())) })
      return
    }
    // The bytes of a character cut by the pipe wait for the next chunk (at most 3).
    let carry: Buffer | undefined
    stream.on('data', (chunk: Buffer) => {
      const bytes = carry === undefined ? chunk : Buffer.concat([carry, chunk])
      const end = completeUtf8End(bytes)
      carry = end < bytes.length ? bytes.subarray(end) : undefined
      this.#keep(validUtf8(bytes.subarray(0, end)))
    })
    await closed(stream, () => { if (carry !== undefined) this.#keep(Buffer.from(carry.toString('utf8'), 'utf8')) })
  }

  finish (): { output: string, truncated: boolean } {
    if (this.masker !== undefined) this.#keep(this.masker.end())
    const kept = this.#chunks.slice(this.#first)
    const joined = Buffer.concat(kept.map(c => typeof c.text === 'string' ? Buffer.from(c.text, 'utf8') : c.text))
    if (this.#seenBytes <= this.maxBytes) return { output: joined.toString('utf8'), truncated: false }
    let start = Math.max(0, joined.length - this.maxBytes)
    while (start < joined.length && ((joined[start] ?? 0) & 0xc0) === 0x80) start++ // never start inside a character
    const keptBytes = joined.length - start
    const note = `[gitmesh: output truncated: ${this.#seenBytes - keptBytes} earlier bytes dropped, the last ${keptBytes} bytes follow]\n`
    return { output: note + joined.subarray(start).toString('utf8'), truncated: true }
  }

  #keep (text: string | Buffer): void {
    const bytes = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.byteLength
    if (bytes === 0) return
    this.#chunks.push({ text, bytes })
    this.#keptBytes += bytes
    this.#seenBytes += bytes
    while (true) {
      const oldest = this.#chunks[this.#first]
      if (oldest === undefined || this.#keptBytes - oldest.bytes < this.maxBytes) break
      this.#keptBytes -= oldest.bytes
      this.#first++
    }
    if (this.#first > 1024 && this.#first * 2 > this.#chunks.length) {
      this.#chunks.splice(0, this.#first)
      this.#first = 0
    }
    try {
      this.onOutput?.(text)
    } catch {
      // A listener's failure must not break the run or crash the daemon from a stream callback.
    }
  }
}

/** Resolves once `stream` closes, after `onClose`. */
async function closed (stream: Readable, onClose: () => void): Promise<void> {
  await new Promise<void>(resolve => {
    stream.once('close', () => {
      onClose()
      resolve()
    })
  })
}

/** Where the last whole character of `bytes` ends: before a trailing lead byte whose continuation bytes have not all come. */
export function completeUtf8End (bytes: Buffer): number {
  const length = bytes.length
  for (let back = 1; back <= 3 && back <= length; back++) {
    const byte = bytes[length - back]!
    if ((byte & 0xc0) === 0x80) continue // a continuation byte: look further back
    // A lead byte: how many bytes its character takes (an ASCII or invalid byte stands alone).
    const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1
    return size > back ? length - back : length
  }
  return length
}

/** `bytes` when they are valid UTF-8, else their text with U+FFFD for what is not (as a decoder gives). */
function validUtf8 (bytes: Buffer): Buffer {
  return isUtf8(bytes) ? bytes : Buffer.from(bytes.toString('utf8'), 'utf8')
}
