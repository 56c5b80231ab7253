import net from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { defaultLogger } from '@libp2p/logger'
import { ControlServer } from '../../../src/daemon/control-server.js'
import { callDaemon } from '../../../src/daemon/control-client.js'

describe('ControlServer', () => {
  let dir: string
  let server: ControlServer
  let emitted = 0

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gitmesh-control-'))
    emitted = 0
    server = new ControlServer(path.join(dir, 'control.sock'), {
      echo: async (params) => params,
      // Streams events until the caller hangs up, as `watch` does.
      flood: async (_params, emit, signal) => {
        while (!signal.aborted) {
          for (let i = 0; i < 100; i++) { emit({ n: emitted++, padding: 'x'.repeat(1000) }) }
          await new Promise(resolve => setImmediate(resolve))
        }
        return null
      }
    }, defaultLogger().forComponent('test'))
    await server.start()
  })

  afterEach(async () => {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('keeps serving when clients hang up while events are written to them', async () => {
    // Each client reads the first event and then resets its socket while the server still
    // writes: the server's writes fail (EPIPE, ECONNRESET), and it must shrug that off.
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(path.join(dir, 'control.sock'))
        socket.once('error', reject)
        socket.once('data', () => { socket.destroy(); resolve() })
        socket.write(JSON.stringify({ id: 1, method: 'flood', params: {} }) + '\n')
      })
    }
    const before = emitted
    expect(before).toBeGreaterThan(0)
    expect(await callDaemon(path.join(dir, 'control.sock'), dir, 'echo', { still: 'here' })).toEqual({ still: 'here' })
  })
})
