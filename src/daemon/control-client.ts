import net from 'node:net'
import { createInterface } from 'node:readline'
import { CONTROL_CONNECT_TIMEOUT_MS } from './constants.js'
import { DaemonGoneError, DaemonNotRunningError, RemoteError } from './errors.js'

export interface CallOptions {
  onEvent?: (event: Record<string, unknown>) => void
  signal?: AbortSignal
}

/** Calls one method on the daemon of a home over its control socket. */
export async function callDaemon<T = unknown> (socketPath: string, home: string, method: string, params: Record<string, unknown> = {}, options: CallOptions = {}): Promise<T> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(socketPath)
    const timer = setTimeout(() => { s.destroy(); reject(new DaemonNotRunningError(home)) }, CONTROL_CONNECT_TIMEOUT_MS)
    s.once('connect', () => { clearTimeout(timer); resolve(s) })
    s.once('error', () => { clearTimeout(timer); reject(new DaemonNotRunningError(home)) })
  })
  try {
    return await new Promise<T>((resolve, reject) => {
      const onAbort = (): void => { socket.destroy(); reject(options.signal?.reason) }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const lines = createInterface({ input: socket, crlfDelay: Infinity })
      let settled = false
      lines.on('line', line => {
        const message = JSON.parse(line) as { event?: Record<string, unknown>, result?: T, error?: { name: string, message: string, code?: string } }
        if (message.event !== undefined) {
          options.onEvent?.(message.event)
        } else if (message.error !== undefined) {
          settled = true
          reject(new RemoteError(message.error.name, message.error.message, message.error.code))
        } else {
          settled = true
          resolve(message.result as T)
        }
      })
      // A daemon that dies mid-call resets the socket (readline passes the error on): 'close'
      // follows, and says so.
      socket.on('error', () => {})
      lines.on('error', () => {})
      socket.once('close', () => {
        options.signal?.removeEventListener('abort', onAbort)
        if (!settled) reject(new DaemonGoneError(home))
      })
      socket.write(JSON.stringify({ id: 1, method, params }) + '\n')
    })
  } finally {
    socket.end()
  }
}
