import type { Command } from 'commander'
import { Home } from '../home/home.js'
import { callDaemon, type CallOptions } from '../daemon/control-client.js'
import { createOutput, type Output } from './output.js'

export interface CommandContext {
  home: Home
  out: Output
  /** Calls the daemon of this home over its control socket. */
  call: <T = unknown>(method: string, params?: Record<string, unknown>, options?: CallOptions) => Promise<T>
}

/** The home, output mode and daemon client for a command, from its own and the global options. */
export function commandContext (command: Command): CommandContext {
  const opts = command.optsWithGlobals<{ home?: string, json?: boolean }>()
  const home = Home.resolve(opts.home)
  return {
    home,
    out: createOutput(opts.json === true),
    call: async (method, params = {}, options = {}) => await callDaemon(home.socketPath, home.dir, method, params, options)
  }
}
