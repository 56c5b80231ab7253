/** Defaults and limits of the builder. Every figure belongs in docs/limits.md. */

/** Worktrees a builder keeps per repository, per slot: one set for the running jobs, one made ready for the next ones. */
export const WORKTREES_PER_SLOT = 2

/** How long committing a finished job's result waits for the job started in its slot to reach its generator: starts first, results a moment later. */
export const NEXT_JOB_FIRST_MS = 250

/** A job variable name (`--pass-env`, `builder.passEnv`, a line of the secrets file): what POSIX shells accept as a name. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Prefix of the variables the builder sets for each job (`GITMESH_PROMPT_FILE`…): never passed or overridden from elsewhere. */
export const RESERVED_ENV_PREFIX = 'GITMESH_'

/** Names `--pass-env` and `builder.passEnv` may list together: a few keys and settings, not the daemon's whole environment. */
export const MAX_PASSED_ENV_NAMES = 64

/** Folders in the command PATH (`--path`, `builder.path`). */
export const MAX_PATH_DIRS = 64

/** Largest secrets file read (bytes): a few dozen keys. */
export const MAX_SECRETS_FILE_BYTES = 64 * 1024

/**
 * Shortest value that is masked in output: masking a short value would blank out common words
 * and numbers all over the logs (GitHub Actions skips short values for the same reason). A
 * shorter one still reaches the commands; the daemon warns about it at start.
 */
export const MIN_MASKED_SECRET_CHARS = 6

/** What a secret's value is replaced with in every text that leaves the builder, as CI systems print it. */
export const SECRET_MASK = '***'

/**
 * Setup results a builder keeps per author and repository, one per setup key (a lock file's
 * hash): the oldest is removed past it. A branch switch back and forth hits; each entry is a full
 * dependency folder (a copy, see SETUP_CACHE_RESTORE), so a few are plenty.
 */
export const SETUP_CACHE_ENTRIES_PER_REPO = 3

/** Bound on copying a setup result into the cache or out of it: far longer than any copy of a dependency folder takes. */
export const SETUP_CACHE_COPY_TIMEOUT_MS = 10 * 60_000

/**
 * How a cached setup result goes into a worktree: `copy` (`cp -a --reflink=auto`: copy-on-write
 * where the filesystem can, a full copy elsewhere) rather than hard links (`cp -al`), which would
 * share every file with the cache, so an agent or a test editing `node_modules` in place would
 * change the cache and every later job's dependencies. Measured in docs/benchmarks.md.
 */
export const SETUP_CACHE_RESTORE: 'copy' | 'hardlink' = 'copy'

/** File in a worktree's git dir naming the setup key its ignored files were made for. */
export const SETUP_MARKER_FILE = 'gitmesh-setup'
