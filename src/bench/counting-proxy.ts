/**
 * A loopback TCP proxy that counts the bytes it forwards. Both git (git:// through the proxy) and
 * gitmesh (a libp2p TCP connection dialled through the proxy) are counted by this one piece of
 * code, so "bytes on the wire" means the same for both: TCP payload, including each protocol's
 * own framing, handshakes and encryption overhead, excluding TCP/IP headers.
 */
import net from 'node:net'
import { listenOnLoopback } from './loopback.js'

export interface ByteCounts {
  /** Bytes from the connecting side (the client) to the target. */
  up: number
  /** Bytes from the target back to the client. */
  down: number
  total: number
}

export interface CountingProxy {
  /** The proxy's port on 127.0.0.1; dial it instead of the target. */
  port: number
  /** Bytes forwarded since start or the last reset(), over all connections. */
  bytes: () => ByteCounts
  /** Sets the counts to zero; connections stay open. */
  reset: () => void
  /** Number of client connections currently open. */
  openConnections: () => number
  /**
   * Resolves once no connection is open. A client process can exit a moment before the proxy has
   * read its last bytes; waiting for its connection to close makes the count complete.
   */
  whenIdle: () => Promise<void>
  /** Closes the listener and every connection; safe to call twice. */
  stop: () => Promise<void>
}

/** Starts a counting proxy on 127.0.0.1 (free port) forwarding to `targetHost:targetPort`. */
export async function startCountingProxy (targetHost: string, targetPort: number): Promise<CountingProxy> {
  let up = 0
  let down = 0
  const sockets = new Set<net.Socket>()
  let open = 0
  let idleWaiters: Array<() => void> = []

  const connectionClosed = (): void => {
    open--
    if (open === 0) {
      const waiters = idleWaiters
      idleWaiters = []
      for (const wake of waiters) wake()
    }
  }

  // allowHalfOpen: a side that ends its writing may still read; the end is passed on, not turned
  // into a full close that could cut off the other direction's last bytes.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    open++
    const target = net.connect({ host: targetHost, port: targetPort, allowHalfOpen: true, noDelay: true })
    sockets.add(client)
    sockets.add(target)
    client.on('data', (chunk: Buffer) => { up += chunk.length })
    target.on('data', (chunk: Buffer) => { down += chunk.length })
    // pipe() keeps backpressure: a slow reader pauses the writer instead of buffering a whole pack.
    client.pipe(target)
    target.pipe(client)
    let closed = 0
    const onClose = (socket: net.Socket) => (): void => {
      sockets.delete(socket)
      if (++closed === 2) connectionClosed()
    }
    client.once('close', onClose(client))
    target.once('close', onClose(target))
    // An error on either side ends both: a half-broken pair would hang its client.
    client.once('error', () => { target.destroy() })
    target.once('error', () => { client.destroy() })
  })

  const port = await listenOnLoopback(server)

  let stopping: Promise<void> | undefined
  return {
    port,
    bytes: () => ({ up, down, total: up + down }),
    reset: () => { up = 0; down = 0 },
    openConnections: () => open,
    whenIdle: async () => {
      if (open === 0) return
      await new Promise<void>((resolve) => { idleWaiters.push(resolve) })
    },
    stop: async () => {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => { resolve() })
        for (const socket of sockets) socket.destroy()
      })
      await stopping
    }
  }
}
