import type net from 'node:net'

/** Starts `server` on a free port of 127.0.0.1 and returns the port. */
export async function listenOnLoopback (server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
  return (server.address() as net.AddressInfo).port
}
