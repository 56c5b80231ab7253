/** What gitmesh knows about one coding agent: its command line, how it fails, what it costs. */

/** How one run of a generator ended, as the judge sees it (the output is stdout and stderr combined, already masked). */
export interface GeneratorOutcome {
  exitCode: number | null
  timedOut: boolean
  output: string
}

/**
 * A judge's reading of a run: `ok` runs the tests; `failed` is a failed attempt (its output goes
 * into the next prompt); `auth` ends the job at once (no retry can help until a person acts);
 * `rate-limit` reruns the same attempt after a wait.
 */
export interface GeneratorVerdict {
  kind: 'ok' | 'failed' | 'auth' | 'rate-limit'
  /** The agent's own words about what went wrong. */
  message?: string
  /** How long the agent said to wait before trying again (rate limits only). */
  retryAfterMs?: number
}

/** Tokens and cost of one run, as far as the agent reports them. */
export interface AgentUsage {
  inputTokens?: number
  outputTokens?: number
  costUsd?: number
}

export interface AgentPreset {
  /** The name given to `--agent`. */
  name: string
  /** A shell command line (run with /bin/sh -c in the worktree) that reads the prompt from `$GITMESH_PROMPT_FILE`. */
  command: string
  /** Prints the agent's version; for `gitmesh doctor`. */
  versionCommand: string
  /** Environment variables that carry the agent's key, for `--pass-env` (docs/generators.md). */
  keyEnv: readonly string[]
  judge: (outcome: GeneratorOutcome) => GeneratorVerdict
  usage: (output: string) => AgentUsage | undefined
}
