import ms from 'ms'
import { DEFAULT_SETUP_TIMEOUT_MS } from '../jobs/constants.js'
import type { JobSpec } from '../jobs/messages.js'
import type { CommandOutcome } from '../process/run-command.js'
import { cleanIgnored, ignoredPaths, readSetupMarker, setupKeyHash, writeSetupMarker, type SetupCache } from './setup-cache.js'

export interface SetupStepContext {
  /** Who offered the job and its repository key: the cache is kept per both. */
  author: string
  cache: SetupCache
  /** Runs the setup command in the worktree (the job runner's `runStep`, kind `setup`). */
  run: (command: string, timeoutMs: number) => Promise<CommandOutcome>
  /** Tells the author the job is in `setup` (only when setup has work to do). */
  onSetup: (line: string) => void
  signal: AbortSignal
}

/** How the job's worktree got its setup; `note` starts attempt 1's log. */
export type SetupResult =
  | { ok: true, how: 'none' | 'worktree' | 'cache' | 'ran', note: string }
  | { ok: false, error: string, log: string }

/**
 * Gives the job's worktree what gitmesh.json's `setup` makes, once per job before attempt 1,
 * the cheapest way that is sure to be right:
 * 1. `worktree`: a pooled worktree whose ignored files a setup with the same key made (its
 *    marker says so, and every path that setup made is still there): nothing to do.
 * 2. `cache`: the builder kept the result of a setup with this key: its ignored paths are copied
 *    in (after the worktree's own ignored files are removed).
 * 3. `ran`: the command runs (on a worktree without ignored files); on success its ignored paths
 *    are captured for the next job with the same key, before the generator can change them.
 * Without `setupKey` there is no key, so the command runs for every job. A failed or timed-out
 * setup ends the job: `ok: false` with the error and the setup's (masked) output.
 */
export async function runSetupStep (spec: Pick<JobSpec, 'repo' | 'setup' | 'timeouts'>, worktree: string, ctx: SetupStepContext): Promise<SetupResult> {
  const setup = spec.setup
  if (setup === undefined) return { ok: true, how: 'none', note: '' }
  const key = await setupKeyHash(worktree, setup)
  const short = key?.slice(0, 12)
  if (key !== undefined && await readSetupMarker(worktree, ctx.signal) === key) {
    return { ok: true, how: 'worktree', note: `$ setup: ${setup.command}\n[gitmesh: setup skipped: this worktree was set up for key ${short}]\n` }
  }
  // The worktree's ignored files are about to change: until setup succeeds they match no key.
  await writeSetupMarker(worktree, undefined, ctx.signal)
  await cleanIgnored(worktree, ctx.signal)
  if (key !== undefined) {
    ctx.onSetup(`setup: restoring ${short} from the cache`)
    const started = performance.now()
    const restored = await ctx.cache.restore(ctx.author, spec.repo, key, worktree, ctx.signal).catch(() => undefined)
    ctx.signal.throwIfAborted()
    if (restored !== undefined) {
      await writeSetupMarker(worktree, key, ctx.signal, restored)
      return { ok: true, how: 'cache', note: `$ setup: ${setup.command}\n[gitmesh: setup skipped: restored key ${short} from the builder's cache in ${Math.round(performance.now() - started)} ms]\n` }
    }
    // A restore that failed half-way leaves files behind: setup starts clean again.
    await cleanIgnored(worktree, ctx.signal)
  }
  ctx.onSetup(`setup: ${setup.command}`.slice(0, 200))
  const timeoutMs = spec.timeouts?.setup ?? DEFAULT_SETUP_TIMEOUT_MS
  const outcome = await ctx.run(setup.command, timeoutMs)
  const log = `$ setup: ${setup.command}\n${outcome.output}`
  if (outcome.exitCode !== 0 || outcome.timedOut || outcome.idleTimedOut) {
    const why = outcome.timedOut ? `timed out after ${ms(timeoutMs)}` : `exit ${outcome.exitCode ?? outcome.signal ?? 'unknown'}`
    return { ok: false, error: `setup failed (${why}): ${setup.command}`, log }
  }
  let cached = key === undefined ? ' (no setupKey: not cached)' : `; cached as key ${short}`
  if (key !== undefined) {
    const made = await ignoredPaths(worktree, ctx.signal)
    try {
      await ctx.cache.capture(ctx.author, spec.repo, key, worktree, made, ctx.signal)
    } catch (err) {
      ctx.signal.throwIfAborted()
      // Setup worked; only keeping its result for later jobs did not (a full disk, say): this job goes on.
      cached = `; not cached: ${(err as Error).message.split('\n')[0] ?? 'copy failed'}`
    }
    await writeSetupMarker(worktree, key, ctx.signal, made)
  }
  return { ok: true, how: 'ran', note: `$ setup: ${setup.command}\n[gitmesh: setup ran in ${Math.round(outcome.ms)} ms${cached}]\n` }
}
