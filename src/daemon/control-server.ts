import net from 'node:net'
import path from 'node:path'
import { chmod, unlink } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { Logger } from '@libp2p/interface'
import { MAX_CONTROL_REQUEST_BYTES } from './constants.js'
import { DaemonAlreadyRunningError } from './errors.js'

/** Emits progress events to the caller while a method runs. */
export type EmitEvent = (event: Record<string, unknown>) => void

export type ControlMethod = (params: Record<string, unknown>, emit: EmitEvent, signal: AbortSignal) => Promise<unknown>

/**
 * The daemon's local control API: newline-delimited JSON over a Unix socket (mode 0600) in the
 * node's home. A request `{"id","method","params"}` is answered by any number of
 * `{"id","event"}` lines and one `{"id","result"}` or `{"id","error":{"name","message"}}`.
 */
function describeThrown (value: unknown): string {
  const event = value as { type?: unknown, error?: unknown }
  if (event?.error instanceof Error) return event.error.message
  if (typeof event?.type === 'string') return `the operation failed (${event.type})`
  return String(value)
}

export class ControlServer {
  private server?: net.Server
  private readonly sockets = new Set<net.Socket>()

  constructor (
    private readonly socketPath: string,
    private readonly methods: Record<string, ControlMethod>,
    private readonly log: Logger
  ) {}

  /** Throws DaemonAlreadyRunningError when another daemon answers on the socket; removes a stale one. */
  async claimSocket (): Promise<void> {
    await this.removeStaleSocket()
  }

  async start (): Promise<void> {
    await this.removeStaleSocket()
    const server = net.createServer(socket => { this.serve(socket) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      // The socket is created under a restrictive umask, then tightened explicitly.
      const umask = process.umask(0o177)
      try {
        server.listen(this.socketPath, () => { server.off('error', reject); resolve() })
      } finally {
        process.umask(umask)
      }
    })
    await chmod(this.socketPath, 0o600)
    this.server = server
  }

  async stop (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>(resolve => server.close(() => { resolve() }))
  }

  private async removeStaleSocket (): Promise<void> {
    const alive = await new Promise<boolean>(resolve => {
      const probe = net.connect(this.socketPath)
      probe.once('connect', () => { probe.destroy(); resolve(true) })
      probe.once('error', () => { resolve(false) })
    })
    if (alive) throw new DaemonAlreadyRunningError(path.dirname(this.socketPath))
    await unlink(this.socketPath).catch(() => { /* there was none */ })
  }

  private serve (socket: net.Socket): void {
    this.sockets.add(socket)
    const abort = new AbortController()
    socket.on('close', () => { this.sockets.delete(socket); abort.abort(new Error('control client went away')) })
    socket.on('error', () => { /* the close handler cleans up */ })
    const send = (message: unknown): void => {
      if (!socket.destroyed) socket.write(JSON.stringify(message) + '\n')
    }
    let received = 0
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (received > MAX_CONTROL_REQUEST_BYTES) {
        send({ id: null, error: { name: 'InvalidRequestError', message: `request larger than ${MAX_CONTROL_REQUEST_BYTES} bytes` } })
        socket.destroy()
      }
    })
    const lines = createInterface({ input: socket, crlfDelay: Infinity })
    // readline re-emits the socket's errors (a client that hangs up mid-stream: ECONNRESET);
    // unheard, that would end the daemon. The socket's close handler cleans up.
    lines.on('error', () => {})
    lines.on('line', line => { void this.handleLine(line, send, abort.signal) })
  }

  private async handleLine (line: string, send: (message: unknown) => void, signal: AbortSignal): Promise<void> {
    let request: { id?: unknown, method?: unknown, params?: unknown }
    try {
      request = JSON.parse(line)
    } catch {
      send({ id: null, error: { name: 'InvalidRequestError', message: 'request is not valid JSON' } })
      return
    }
    const id = request.id ?? null
    const method = typeof request.method === 'string' && Object.hasOwn(this.methods, request.method) ? this.methods[request.method] : undefined
    if (method === undefined) {
      send({ id, error: { name: 'InvalidRequestError', message: `unknown method ${JSON.stringify(request.method)}` } })
      return
    }
    const params = (typeof request.params === 'object' && request.params !== null ? request.params : {}) as Record<string, unknown>
    try {
      const result = await method(params, event => { send({ id, event }) }, signal)
      send({ id, result: result ?? null })
    } catch (err) {
      // libp2p sometimes rejects with an Event, not an Error: report something a person can read.
      const error = err instanceof Error ? err as Error & { code?: string } : Object.assign(new Error(describeThrown(err)), { code: undefined })
      this.log('control %s failed - %e', request.method, err)
      send({ id, error: { name: error.name, message: error.message, code: error.code } })
    }
  }
}
