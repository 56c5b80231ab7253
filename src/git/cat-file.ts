import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { startPipedChild } from '../process/child.js'
import { gitEnv } from '../process/environment.js'
import { GitCommandError } from './errors.js'

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag'

export interface RawObject {
  oid: string
  type: ObjectType
  body: Buffer
}

export interface ObjectInfo {
  oid: string
  type: ObjectType
  size: number
}

interface Pending {
  oid: string
  resolve: (value: RawObject | ObjectInfo | null) => void
  reject: (err: Error) => void
}

/**
 * One long-lived `git cat-file --batch` (or `--batch-check`) process. Requests are pipelined:
 * many ids are written at once and the answers are matched in order, which is how one process
 * reads thousands of objects per second where a spawn per object would not.
 */
export class CatFile {
  private child?: ChildProcessWithoutNullStreams
  private readonly queue: Pending[] = []
  private buffer: Buffer = Buffer.alloc(0)

  constructor (
    private readonly cwd: string,
    private readonly mode: 'batch' | 'batch-check',
    private readonly env: NodeJS.ProcessEnv = gitEnv()
  ) {}

  private start (): ChildProcessWithoutNullStreams {
    if (this.child !== undefined) return this.child
    const args = ['cat-file', `--${this.mode}`]
    // Long-lived, so no timeout of its own: each caller bounds its wait, and close() ends it.
    const running = startPipedChild({ file: 'git', args, cwd: this.cwd, env: this.env, timeoutMs: undefined })
    running.exit.catch(() => { /* a failed start is reported through 'error' below */ })
    const child = running.child
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
    child.stdout.on('data', (chunk: Buffer) => {
      // Output of a process we have given up on must never be matched to a later request.
      if (this.child !== child) return
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
      this.drain()
    })
    child.stdin.on('error', () => { /* reported through 'close' */ })
    const fail = (err: Error): void => {
      if (this.child !== child) return
      this.child = undefined
      this.buffer = Buffer.alloc(0)
      for (const pending of this.queue.splice(0)) pending.reject(err)
    }
    child.on('error', fail)
    child.on('close', (code) => {
      fail(new GitCommandError(args, code, stderr || 'cat-file exited'))
    })
    this.child = child
    return child
  }

  private drain (): void {
    while (this.queue.length > 0) {
      const newline = this.buffer.indexOf(0x0a)
      if (newline < 0) return
      const header = this.buffer.toString('latin1', 0, newline)
      const pending = this.queue[0]!
      const parts = header.split(' ')
      if (parts[1] === 'missing' || parts[1] === 'ambiguous') {
        this.buffer = this.buffer.subarray(newline + 1)
        this.queue.shift()
        pending.resolve(null)
        continue
      }
      const [oid, type, sizeText] = parts as [string, ObjectType, string]
      const size = Number(sizeText)
      if (this.mode === 'batch-check') {
        this.buffer = this.buffer.subarray(newline + 1)
        this.queue.shift()
        pending.resolve({ oid, type, size })
        continue
      }
      const end = newline + 1 + size
      if (this.buffer.length < end + 1) return
      const body = Buffer.from(this.buffer.subarray(newline + 1, end))
      this.buffer = this.buffer.subarray(end + 1)
      this.queue.shift()
      pending.resolve({ oid, type, body })
    }
  }

  private request (oids: readonly string[]): Array<Promise<RawObject | ObjectInfo | null>> {
    const child = this.start()
    const promises = oids.map(oid => new Promise<RawObject | ObjectInfo | null>((resolve, reject) => {
      this.queue.push({ oid, resolve, reject })
    }))
    if (oids.length > 0) child.stdin.write(oids.join('\n') + '\n')
    return promises
  }

  /** Reads many objects in one pipelined batch; a missing object gives `null`. */
  async readMany (oids: readonly string[]): Promise<Array<RawObject | null>> {
    if (this.mode !== 'batch') throw new Error('readMany needs a --batch reader')
    return await Promise.all(this.request(oids)) as Array<RawObject | null>
  }

  async read (oid: string): Promise<RawObject | null> {
    const [one] = await this.readMany([oid])
    return one ?? null
  }

  /** Types and sizes of many objects; a missing object gives `null`. */
  async infoMany (oids: readonly string[]): Promise<Array<ObjectInfo | null>> {
    if (this.mode !== 'batch-check') throw new Error('infoMany needs a --batch-check reader')
    return await Promise.all(this.request(oids)) as Array<ObjectInfo | null>
  }

  /** Ends the process; a later request starts a new one. */
  close (): void {
    const child = this.child
    this.child = undefined
    this.buffer = Buffer.alloc(0)
    if (child !== undefined) {
      child.removeAllListeners('close')
      child.stdin.end()
      for (const pending of this.queue.splice(0)) pending.reject(new Error('cat-file closed'))
    }
  }
}
