import { mkdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import ms from 'ms'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Exchange } from '../exchange/index.js'
import { ensureBareRepository } from '../git/repository.js'
import { oidToBytes } from '../git/oid.js'
import { MAX_ATTEMPT_LOG_BYTES, MAX_FEEDBACK_BYTES, MAX_SUMMARY_CHARS } from '../jobs/constants.js'
import type { AttemptReport, ResultAnnouncement, ResultBody } from '../jobs/messages.js'
import { signResult } from '../jobs/signing.js'
import type { BuilderJob, BuilderJobState } from './builder-store.js'
import { runCommand, type CommandOutcome, type OutputMasker } from '../process/run-command.js'
import { commitWorktree, type WorktreePool } from './worktree.js'
import type { Generator } from '../agents/index.js'
import { AgentAuthError, AgentRateLimitError, generateAttempt } from './agent-outcome.js'
import type { SetupCache } from './setup-cache.js'
import { runSetupStep } from './setup-step.js'
import { generatorTimeouts, type BuilderTimeouts } from './timeouts.js'

export interface RunnerContext {
  exchange: Exchange
  privateKey: PrivateKey
  peerId: string
  /** The builder's work area: cached repositories, worktrees and prompt files live under it. */
  workDir: string
  /** The generator command, and how its outcome and usage are read (a preset's, or the exit code alone). */
  generator: Generator
  worktrees: WorktreePool
  /** Setup results kept between jobs (docs/generators.md, "Setup"). */
  setupCache: SetupCache
  /**
   * The builder's own generator bounds, for projects whose gitmesh.json sets none.
   * @default the spec's generateTimeoutMs and DEFAULT_IDLE_TIMEOUT_MS
   */
  timeouts?: BuilderTimeouts
  /**
   * The job needs its slot no more (its last test has run): the next job starts. Resolves when
   * that job has reached its generator (or soon after, at the latest), so the result is
   * committed without competing with that start.
   */
  onSlotFree: () => Promise<void>
  /** Records the process group of the command running now (null when it ended). */
  onProcessGroup: (pgid: number | null) => void
  /** Reports a change of state (and a line of progress) to the store and the author. */
  onState: (state: BuilderJobState, attempt: number, line: string) => void
  /**
   * Live output of the step running now, in chunks as written, already masked (by `maskStream`,
   * which may hold a tail that could start a secret back until the next chunk, else by `mask`);
   * with nothing to mask, the pipe's bytes (valid UTF-8, cut between characters).
   * @default none
   */
  onOutput?: (step: StepKind, attempt: number, chunk: string | Buffer) => void
  /**
   * Hides secret values in any text that leaves the builder (logs, summaries, errors): the
   * builder's secrets replaced by `***`.
   * @default the text unchanged
   */
  mask?: (text: string) => string
  /**
   * A masker for one command's output as it streams (secret-mask.ts): a secret split across
   * chunks, or cut by the output cap, still never shows.
   * @default `mask` on each chunk
   */
  maskStream?: () => OutputMasker
  /**
   * What every job command's environment starts from (command-env.ts); the job's `GITMESH_*`
   * variables go on top.
   * @default scrubbedEnv()
   */
  commandEnv?: Record<string, string>
  signal: AbortSignal
}

/** The commands a job runs, each a step with its own output. */
export type StepKind = 'setup' | 'generate' | 'test'

interface Step {
  kind: StepKind
  attempt: number
  command: string
  cwd: string
  env: Record<string, string>
  timeoutMs: number
  /** @default none */
  idleTimeoutMs?: number
}

/**
 * Runs one command of a job: the only place a job's commands start, so that timeouts, process
 * groups, live output and masking apply to every one of them alike. The outcome's output is
 * masked. Throws when the job is cancelled.
 */
async function runStep (ctx: RunnerContext, step: Step): Promise<CommandOutcome> {
  const mask = ctx.mask ?? ((text: string) => text)
  const onOutput = ctx.onOutput
  const outcome = await runCommand({
    command: step.command,
    cwd: step.cwd,
    env: step.env,
    baseEnv: ctx.commandEnv,
    maskOutput: ctx.maskStream?.(),
    timeoutMs: step.timeoutMs,
    idleTimeoutMs: step.idleTimeoutMs,
    signal: ctx.signal,
    onSpawn: ctx.onProcessGroup,
    onOutput: onOutput === undefined ? undefined : chunk => { onOutput(step.kind, step.attempt, ctx.maskStream === undefined ? mask(chunk) : chunk) },
    // With no secret to mask, the output goes on as the pipe's bytes (never decoded on the way).
    onOutputBytes: onOutput === undefined || ctx.mask !== undefined || ctx.maskStream !== undefined ? undefined : chunk => { onOutput(step.kind, step.attempt, chunk) }
  })
  ctx.onProcessGroup(null)
  ctx.signal.throwIfAborted()
  // A stream masker has masked the output as it came; only without one is the whole text masked here.
  return ctx.maskStream === undefined ? { ...outcome, output: mask(outcome.output) } : outcome
}

/** Keeps the last `bytes` of UTF-8 text, cut on a character boundary. */
export function tail (text: string, bytes: number): string {
  const buffer = Buffer.from(text, 'utf8')
  if (buffer.length <= bytes) return text
  return buffer.subarray(buffer.length - bytes).toString('utf8').replace(/^\uFFFD+/, '')
}

function lastLine (output: string): string {
  const lines = output.trimEnd().split('\n')
  return lines[lines.length - 1]?.slice(0, 200) ?? ''
}

/**
 * The prompt for the next attempt: the prompt so far, then the failing output (its tail, cut at a
 * line start). The output goes in as plain text, not inside a fence of our own: a code block the
 * tests print (a suggested fix, say) must stay a code block the generator can see.
 */
export function withFeedback (prompt: string, attempt: number, outcome: CommandOutcome, what: 'tests' | 'generator', why: { said?: string, idleTimeoutMs?: number } = {}): string {
  // An agent that exits 0 on an error (its preset read the error from its log) says why itself.
  const reason = outcome.idleTimedOut
    ? `stopped: no output for ${why.idleTimeoutMs === undefined ? 'too long' : ms(why.idleTimeoutMs, { long: true })}`
    : outcome.timedOut ? 'timed out' : outcome.exitCode === 0 && why.said !== undefined ? `exited with 0: ${why.said}` : `exited with ${outcome.exitCode ?? outcome.signal ?? 'an error'}`
  let output = tail(outcome.output, MAX_FEEDBACK_BYTES)
  if (output.length < outcome.output.length) output = output.slice(output.indexOf('\n') + 1)
  return `${prompt}\n\n## Attempt ${attempt}: the ${what} failed (${reason})\n\nOutput (last part):\n\n${output.trimEnd()}\n`
}

/** Where the builder caches an author's repository (a bare repository per author and repo key). */
export function cacheRepoPath (workDir: string, author: string, repoKey: string): string {
  return path.join(workDir, 'repos', author, `${repoKey}.git`)
}

/**
 * Runs one job to its signed result: fetch S, check it out into a fresh worktree, then
 * generate → test, appending the failing output to the prompt, until the tests pass or the
 * attempts are spent; commit B (parent S) whether or not they passed; remove the worktree.
 * Throws only when cancelled; every other failure becomes a result carrying `error`.
 */
export async function runJob (job: BuilderJob, ctx: RunnerContext): Promise<ResultAnnouncement> {
  const { spec } = job
  const mask = ctx.mask ?? ((text: string) => text)
  const started = Date.now()
  const repo = cacheRepoPath(ctx.workDir, job.author, spec.repo)
  let worktree: string | undefined
  let committed = false
  const promptDir = path.join(ctx.workDir, 'prompts', `${spec.id}-r${spec.round}`)
  const attempts: AttemptReport[] = []
  const body = (fields: Partial<ResultBody>): ResultBody => ({
    type: 'result',
    job: spec.id,
    round: spec.round,
    builder: ctx.peerId,
    passed: false,
    summary: '',
    committedAt: Date.now(),
    attempts,
    ...fields
  })
  try {
    ctx.onState('fetching', 0, 'fetching the snapshot')
    await ensureBareRepository(repo)
    await ctx.exchange.fetch(peerIdFromString(job.author), [spec.snapshot], repo, { signal: ctx.signal })
    ctx.signal.throwIfAborted()
    worktree = await ctx.worktrees.acquire(repo, spec.snapshot, `${spec.repo}-${spec.id}-r${spec.round}`, { signal: ctx.signal })
    const cwd = worktree
    await mkdir(promptDir, { recursive: true })
    const jobEnv = { GITMESH_JOB_ID: spec.id, GITMESH_JOB_NAME: spec.name, GITMESH_SNAPSHOT: spec.snapshot, GITMESH_WORKTREE: cwd }
    const setup = await runSetupStep(spec, cwd, {
      author: job.author,
      cache: ctx.setupCache,
      run: async (command, timeoutMs) => await runStep(ctx, { kind: 'setup', attempt: 0, command, cwd, env: jobEnv, timeoutMs }),
      onSetup: line => { ctx.onState('setup', 0, line) },
      signal: ctx.signal
    })
    if (!setup.ok) {
      // No prompt attempt runs: the setup's log travels as attempt 1's, with no generator time.
      attempts.push({ number: 1, passed: false, generateMs: 0, testMs: 0, log: tail(setup.log, MAX_ATTEMPT_LOG_BYTES) })
      return await signResult(ctx.privateKey, body({ error: setup.error.slice(0, MAX_SUMMARY_CHARS), summary: setup.error.slice(0, MAX_SUMMARY_CHARS) }))
    }
    const generator = generatorTimeouts(spec, ctx.timeouts)

    let prompt = spec.prompt
    let passed = false
    let lastOutcome: CommandOutcome | undefined
    for (let number = 1; number <= spec.attempts; number++) {
      const promptFile = path.join(promptDir, `attempt-${number}.md`)
      await writeFile(promptFile, prompt)
      const env = {
        GITMESH_PROMPT_FILE: promptFile,
        ...jobEnv,
        GITMESH_ATTEMPT: String(number),
        GITMESH_ATTEMPTS: String(spec.attempts)
      }
      // Attempt 1's log starts with how setup went (ran, or skipped and why).
      const first = number === 1 ? setup.note : ''
      ctx.onState('generating', number, `attempt ${number}/${spec.attempts}: generating`)
      const command = ctx.generator.command
      const generation = await generateAttempt(ctx.generator, async () => await runStep(ctx, { kind: 'generate', attempt: number, command, cwd, env, ...generator }), {
        onWait: line => { ctx.onState('generating', number, `attempt ${number}/${spec.attempts}: ${line}`) },
        signal: ctx.signal
      })
      const generated = generation.outcome
      const stopped = generated.idleTimedOut ? `\n[gitmesh: the generator was stopped: no output for ${ms(generator.idleTimeoutMs, { long: true })}]\n` : ''
      const generateLog = `${first}$ ${command}\n${[...generation.notes, generated.output].join('\n')}${stopped}`
      if (generation.verdict.kind !== 'ok') {
        attempts.push({ number, passed: false, generateMs: Math.round(generated.ms), testMs: 0, log: tail(generateLog, MAX_ATTEMPT_LOG_BYTES), ...generation.usage })
        // A refused key or spent credit fails every attempt alike: the job ends with the agent's words.
        if (generation.verdict.kind === 'auth') throw new AgentAuthError(`${ctx.generator.agent ?? 'the generator'} could not authenticate: ${generation.verdict.message ?? 'no message'}`)
        if (generation.verdict.kind === 'rate-limit') throw new AgentRateLimitError(`${ctx.generator.agent ?? 'the generator'} stayed rate limited after ${generation.notes.length} waits: ${generation.verdict.message ?? 'no message'}`)
        lastOutcome = generated
        prompt = withFeedback(prompt, number, generated, 'generator', { said: generation.verdict.message, idleTimeoutMs: generator.idleTimeoutMs })
        continue
      }
      ctx.onState('testing', number, `attempt ${number}/${spec.attempts}: ${lastLine(generated.output) || 'testing'}`)
      const tested = await runStep(ctx, { kind: 'test', attempt: number, command: spec.test, cwd, env, timeoutMs: spec.testTimeoutMs })
      passed = tested.exitCode === 0 && !tested.timedOut
      lastOutcome = tested
      attempts.push({
        number,
        passed,
        generateMs: Math.round(generated.ms),
        testMs: Math.round(tested.ms),
        log: tail(`${generateLog}\n$ ${spec.test}\n${tested.output}`, MAX_ATTEMPT_LOG_BYTES),
        ...generation.usage
      })
      if (passed) break
      prompt = withFeedback(prompt, number, tested, 'tests')
    }

    await ctx.onSlotFree()
    const generatorFailedLast = attempts.at(-1)?.testMs === 0 && !passed
    const summary = passed
      ? `tests passed on attempt ${attempts.length} of ${spec.attempts}`
      : `${generatorFailedLast ? 'the generator failed' : 'tests failed'} after ${attempts.length} attempt${attempts.length === 1 ? '' : 's'}: ${lastLine(lastOutcome?.output ?? '')}`
    const message = `gitmesh: ${spec.name}\n\n${summary}\n\nGitmesh-Job: ${spec.id}\nGitmesh-Builder: ${ctx.peerId}\n`
    const { commit } = await commitWorktree(cwd, path.join(repo, 'objects'), spec.snapshot, message, { name: 'gitmesh builder', email: `${ctx.peerId}@gitmesh.invalid` })
    committed = true
    return await signResult(ctx.privateKey, body({ commit: oidToBytes(commit), passed, summary: summary.slice(0, MAX_SUMMARY_CHARS), committedAt: Date.now() }))
  } catch (err) {
    if (ctx.signal.aborted) throw err
    const reason = mask(`${(err as Error).name ?? 'Error'}: ${(err as Error).message ?? String(err)}`).slice(0, MAX_SUMMARY_CHARS)
    return await signResult(ctx.privateKey, body({ error: reason, summary: `no result after ${Math.round((Date.now() - started) / 1000)} s` }))
  } finally {
    // A committed worktree goes back to the pool at once; any other is removed in the background.
    if (worktree !== undefined) {
      const releasing = ctx.worktrees.release(repo, worktree, committed).catch(() => {})
      if (committed) await releasing
    }
    await rm(promptDir, { recursive: true, force: true }).catch(() => {})
  }
}
