import { setTimeout as sleep } from 'node:timers/promises'
import { isDaemonAway } from '../daemon/errors.js'
import type { CommandContext } from './context.js'

/** How often a command that follows the daemon looks whether it is back after it went away. */
export const RECONNECT_POLL_MS = 500

export interface FollowOptions {
  /** The daemon went away (stopped or restarting); called once per absence. */
  onDown?: () => void
  /** The daemon is back and the event stream runs again: state may have moved meanwhile, read it afresh. */
  onUp?: () => void
  /** Ends the following; the call then resolves. */
  signal: AbortSignal
  /** Also each chunk of live output (`log` events, after a `watching` event on each subscription). */
  logs?: boolean
}

/**
 * Streams the daemon's job events to `onEvent` until `signal` aborts, across daemon restarts: when
 * the daemon goes away it waits for it to come back, polling every RECONNECT_POLL_MS, and
 * follows again. Any other error rejects.
 */
export async function followDaemonEvents (ctx: CommandContext, onEvent: (event: Record<string, unknown>) => void, options: FollowOptions): Promise<void> {
  const { signal } = options
  while (!signal.aborted) {
    try {
      await ctx.call('watch', options.logs === true ? { logs: true } : {}, { onEvent, signal })
    } catch (err) {
      if (signal.aborted) return
      if (!isDaemonAway(err)) throw err
    }
    if (signal.aborted) return
    options.onDown?.()
    if (!await waitForDaemon(ctx, signal)) return
    options.onUp?.()
  }
}

/** Resolves true once the daemon answers, false if `signal` aborts first. */
export async function waitForDaemon (ctx: CommandContext, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    try {
      await ctx.call('id', {}, { signal })
      return true
    } catch (err) {
      if (signal.aborted) return false
      if (!isDaemonAway(err)) throw err
    }
    await sleep(RECONNECT_POLL_MS, undefined, { signal }).catch(() => {})
  }
  return false
}
