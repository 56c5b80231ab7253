/** Defaults and limits of the builder. Every figure belongs in docs/limits.md. */

/** The shell that runs generator and test commands: POSIX everywhere, and what `gitmesh.json` commands are written for. */
export const SHELL = '/bin/sh'

/**
 * Variables a command inherits from the daemon's environment; everything else (tokens, keys,
 * `GITMESH_*` of the daemon itself) stays out. Enough for tools to find programs, a home, a locale,
 * a terminal type and a temporary folder.
 */
export const PASSED_ENV_KEYS: readonly string[] = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TERM', 'TMPDIR', 'USER', 'SHELL']

/** Output kept per command (the tail, bytes): enough for a test runner's failure summary, small enough to append to a prompt. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024

/** Time between SIGTERM and SIGKILL for a command's process group: long enough for test runners to clean up, short enough for cancel to feel immediate. */
export const KILL_GRACE_MS = 2_000

/** How long to wait for a process group to vanish after SIGKILL; only a process stuck in the kernel (state D) takes longer, and we stop waiting for it. */
export const GROUP_EXIT_WAIT_MS = 2_000

/** Interval between checks that a process group is gone: a check costs a signal (and a /proc scan), and exits take milliseconds. */
export const GROUP_POLL_MS = 10

/** How long to wait for the output pipes to close once the group is gone; only a process that left the group (setsid) can hold them longer. */
export const OUTPUT_DRAIN_MS = 500

/** Largest timer Node.js accepts (2^31 - 1 ms, about 24.8 days); a longer timeout would fire at once. */
export const MAX_TIMER_MS = 2_147_483_647

/** Worktrees a builder keeps per repository, per slot: one set for the running jobs, one made ready for the next ones. */
export const WORKTREES_PER_SLOT = 2

/** How long committing a finished job's result waits for the job started in its slot to reach its generator: starts first, results a moment later. */
export const NEXT_JOB_FIRST_MS = 250
