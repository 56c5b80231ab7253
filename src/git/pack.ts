import { readFile } from 'node:fs/promises'
import { PassThrough, type Readable } from 'node:stream'
import { startPipedChild, type ChildExit, type RunningChild } from '../process/child.js'
import { GIT_TIMEOUT_MS } from '../process/constants.js'
import { gitEnv } from '../process/environment.js'
import { GitCommandError, MalformedObjectError, UnsafePathError } from './errors.js'
import type { ClosureEntry } from './closure.js'

export interface PackStream {
  stream: Readable
  /** Resolves when pack-objects exited cleanly; rejects with its stderr otherwise. */
  done: Promise<void>
}

/**
 * Streams a pack of exactly `entries` from `git pack-objects`. Each `preferredBase` (a commit or
 * tree the receiver holds) is offered as an edge: objects at the same path in it may serve as
 * delta bases without being sent, which makes a thin pack the receiver completes with
 * `index-pack --fix-thin`.
 */
export interface PackOptions {
  /** pack-objects' delta window; 0 skips the delta search. @default git's own (10) */
  deltaWindow?: number
  signal?: AbortSignal
}

export function packObjects (cwd: string, entries: readonly ClosureEntry[], preferredBases: readonly string[], options: PackOptions = {}): PackStream {
  const { signal } = options
  const args = ['pack-objects', '--stdout', '-q', '--delta-base-offset']
  if (options.deltaWindow !== undefined) args.push(`--window=${options.deltaWindow}`)
  const running = startPipedChild({ file: 'git', args, cwd, env: gitEnv(), timeoutMs: GIT_TIMEOUT_MS, signal })
  const child = running.child
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  child.stdin.on('error', () => { /* reported through the exit code */ })
  const lines = preferredBases.map(oid => `-${oid}`)
  for (const entry of entries) {
    // One object per line: a name is cut at its first newline, as `git rev-list --objects` does.
    const name = entry.path.split('\n', 1)[0]!
    lines.push(name === '' ? entry.oid : `${entry.oid} ${name}`)
  }
  child.stdin.end(lines.join('\n') + '\n')
  const done = finished(running, args, () => stderr, signal).then(exit => {
    if (exit.exitCode !== 0) throw new GitCommandError(args, exit.exitCode, stderr)
  })
  done.catch(() => { /* the caller awaits it; avoid an unhandled rejection when it does not get that far */ })
  // Node drains and drops a child's untouched stdout once the child exits, and a small pack can be
  // complete before the caller starts reading: take the bytes into a buffer of our own at once.
  return { stream: child.stdout.pipe(new PassThrough()), done }
}

export interface IndexedPack {
  /** Pack checksum as printed by index-pack. */
  hash: string
  packPath: string
  indexPath: string
}

/**
 * Feeds a received pack to `git index-pack --stdin --fix-thin`, writing into `objectDir` (a
 * quarantine) while reading delta bases from the repository. index-pack computes every object's
 * id from its content, so nothing the sender claims about ids is trusted.
 */
export async function indexPack (cwd: string, objectDir: string, alternates: string, source: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<IndexedPack> {
  // --fsck-objects checks every object as it is indexed, without requiring the closure to be
  // complete yet: malformed objects and tree entries named '', '.', '..', '.git' (in any case and
  // in its NTFS/HFS disguises) or containing '/' fail the whole pack.
  const args = ['index-pack', '--stdin', '--fix-thin', '--fsck-objects']
  const env = gitEnv({ GIT_OBJECT_DIRECTORY: objectDir, GIT_ALTERNATE_OBJECT_DIRECTORIES: alternates })
  const running = startPipedChild({ file: 'git', args, cwd, env, timeoutMs: GIT_TIMEOUT_MS, signal })
  const child = running.child
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const exited = finished(running, args, () => stderr, signal).then(exit => exit.exitCode)
  exited.catch(() => { /* awaited below */ })
  // index-pack may stop reading before the pack ends (a full disk, a corrupt pack): then its
  // stdin never drains, and writing to it only fails. Stop feeding it as soon as it is gone.
  let gone = false
  void exited.finally(() => { gone = true }).catch(() => {})
  child.stdin.on('error', () => { /* index-pack went away: its exit code and stderr say why */ })
  let writeError: unknown
  try {
    for await (const chunk of source) {
      if (gone) break
      if (!child.stdin.write(chunk)) {
        await Promise.race([
          new Promise<void>(resolve => { child.stdin.once('drain', resolve) }),
          exited.then(() => {}, () => {})
        ])
      }
    }
  } catch (err) {
    writeError = err
    void running.kill()
  } finally {
    child.stdin.end()
  }
  const code = await exited
  if (writeError !== undefined) throw writeError
  if (code !== 0) throw indexPackError(args, code, stderr)
  const match = /^(?:pack|keep)\t([0-9a-f]{40})$/m.exec(stdout)
  if (match === null) throw new GitCommandError(args, code, `unexpected output ${JSON.stringify(stdout)}`)
  const hash = match[1]!
  return { hash, packPath: `${objectDir}/pack/pack-${hash}.pack`, indexPath: `${objectDir}/pack/pack-${hash}.idx` }
}

/**
 * Resolves with how a git child ended once its output is all read ('close'); an abort rejects
 * with the signal's reason and a timeout with a GitCommandError, as for every git command.
 */
async function finished (running: RunningChild, args: string[], stderr: () => string, signal?: AbortSignal): Promise<ChildExit> {
  const closed = new Promise<void>(resolve => { running.child.once('close', () => { resolve() }) })
  const exit = await running.exit
  await closed
  if (exit.cancelled) throw signal?.reason ?? new DOMException('This operation was aborted', 'AbortError')
  if (exit.timedOut) throw new GitCommandError(args, null, `timed out after ${GIT_TIMEOUT_MS} ms: ${stderr()}`)
  return exit
}

/** fsck message ids that mean a tree entry could escape or corrupt a working tree, with the name each one means. */
const UNSAFE_NAME_CHECKS: Record<string, string> = {
  hasDot: '.',
  hasDotdot: '..',
  hasDotgit: '.git',
  fullPathname: 'a name containing /',
  emptyName: ''
}

function indexPackError (args: string[], code: number | null, stderr: string): Error {
  const match = /object ([0-9a-f]{40}): (\w+): (.*)/.exec(stderr)
  if (match !== null) {
    const [, object = '', check = '', detail = ''] = match
    const name = UNSAFE_NAME_CHECKS[check]
    if (name !== undefined) return new UnsafePathError(name, `${check}: ${detail}`, object)
    return new MalformedObjectError(`received object ${object} fails fsck (${check}: ${detail})`)
  }
  return new GitCommandError(args, code, stderr)
}

/** Lists the object ids in a version 2 pack index (`.idx`). */
export async function readPackIndexOids (indexPath: string): Promise<string[]> {
  const data = await readFile(indexPath)
  if (data.length < 8 + 256 * 4 || data.readUInt32BE(0) !== 0xff744f63 || data.readUInt32BE(4) !== 2) {
    throw new MalformedObjectError(`${indexPath} is not a version 2 pack index`)
  }
  const count = data.readUInt32BE(8 + 255 * 4)
  const start = 8 + 256 * 4
  if (data.length < start + count * 20) throw new MalformedObjectError(`${indexPath} is truncated`)
  const oids = new Array<string>(count)
  for (let i = 0; i < count; i++) oids[i] = data.toString('hex', start + i * 20, start + (i + 1) * 20)
  return oids
}
