/** Defaults and limits of the builder. Every figure belongs in docs/limits.md. */

/** Worktrees a builder keeps per repository, per slot: one set for the running jobs, one made ready for the next ones. */
export const WORKTREES_PER_SLOT = 2

/** How long committing a finished job's result waits for the job started in its slot to reach its generator: starts first, results a moment later. */
export const NEXT_JOB_FIRST_MS = 250
