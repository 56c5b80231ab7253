/** Rules every child process of gitmesh runs by (git, generators, tests, the namer). Every figure is listed in docs/limits.md. */

/** The shell that runs generator, test and namer commands: POSIX everywhere, and what `gitmesh.json` commands are written for. */
export const SHELL = '/bin/sh'

/**
 * Variables an untrusted command (a generator, tests of code a builder wrote) inherits from the
 * daemon's environment; everything else (tokens, keys, `GITMESH_*` of the daemon itself) stays
 * out. Enough for tools to find programs, a home, a locale, a terminal type and a temporary folder.
 */
export const PASSED_ENV_KEYS: readonly string[] = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TERM', 'TMPDIR', 'USER', 'SHELL']

/** Variables removed from a git child's environment: set by a caller, they would point git at another repository. */
export const GIT_REDIRECT_ENV_KEYS: readonly string[] = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_CEILING_DIRECTORIES', 'GIT_NAMESPACE']

/**
 * Default bound on one git command. The slowest ones gitmesh runs (checking out or adding a very
 * large tree) take seconds; one that runs for ten minutes waits on something that will not come
 * (a hung filesystem, a stuck lock) and would otherwise hold its caller forever.
 */
export const GIT_TIMEOUT_MS = 10 * 60_000

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
