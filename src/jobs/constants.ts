/** Protocol id, defaults and limits of jobs. Every figure is listed in docs/limits.md. */

export const JOBS_PROTOCOL = '/gitmesh/jobs/1.0.0'

/** Longest prompt accepted from a user or a peer (characters). */
export const MAX_PROMPT_CHARS = 256 * 1024

/** Longest job name; names are short kebab-case slugs. */
export const MAX_NAME_CHARS = 48

/** Significant words a derived name keeps. */
export const NAME_WORDS = 3

/** Time the configured namer command gets before the derived name is used instead. */
export const NAMER_TIMEOUT_MS = 1000

/** Output of the namer command read before it is stopped (its first line is the name). */
export const MAX_NAMER_OUTPUT_CHARS = 4096

/** `priority` range: wide enough to interleave, narrow enough to read at a glance. */
export const MIN_PRIORITY = -1000
export const MAX_PRIORITY = 1000
export const DEFAULT_PRIORITY = 0

/** Builders a job goes to when nothing says. */
export const DEFAULT_FANOUT = 1

/** Attempts when neither gitmesh.json nor --attempts says. */
export const DEFAULT_ATTEMPTS = 3

/** Upper bound on attempts, whatever the config says. */
export const MAX_ATTEMPTS = 20

/**
 * Generator and test timeouts when gitmesh.json does not say. A coding agent on a real task
 * takes tens of minutes; ten killed typical runs. A builder's `--generate-timeout` replaces the
 * generator's default for the jobs it runs.
 */
export const DEFAULT_GENERATE_TIMEOUT_MS = 60 * 60_000
export const DEFAULT_TEST_TIMEOUT_MS = 5 * 60_000

/** Setup timeout when gitmesh.json does not say: a cold `npm ci` of a large project takes minutes. */
export const DEFAULT_SETUP_TIMEOUT_MS = 20 * 60_000

/**
 * A generator that writes nothing for this long is ended, when neither gitmesh.json nor the
 * builder's `--idle-timeout` says: an agent streams its steps, so silence this long is an agent
 * waiting for an answer it will never get. Setup and tests have no idle bound (`npm ci` without
 * a terminal is silent until it ends).
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60_000

/** Files `setupKey` may name: a lock file or a few, not a tree. */
export const MAX_SETUP_KEY_FILES = 16

/** Length of one `setupKey` path. */
export const MAX_SETUP_KEY_PATH_CHARS = 256

/** Upper bound on either timeout. */
export const MAX_COMMAND_TIMEOUT_MS = 6 * 60 * 60_000

/** Log kept per attempt (bytes, the tail), on the builder and in a result. */
export const MAX_ATTEMPT_LOG_BYTES = 64 * 1024

/** Test output appended to the prompt for the next attempt (bytes, the tail). */
export const MAX_FEEDBACK_BYTES = 16 * 1024

/** Longest progress line carried in a status update. */
export const MAX_PROGRESS_CHARS = 200

/** The repository config file that travels inside the snapshot. */
export const PROJECT_CONFIG_FILE = 'gitmesh.json'

/** Largest gitmesh.json read. */
export const MAX_PROJECT_CONFIG_BYTES = 64 * 1024

/** A job message must be answered this soon. */
export const MESSAGE_TIMEOUT_MS = 10_000

/** Time to write a refusal and close the stream after a failed request; then the stream is reset. */
export const REPLY_TIMEOUT_MS = 1_000

/** How often the author looks for builders for queued jobs, besides reacting to events. */
export const SCHEDULE_INTERVAL_MS = 2_000

/** How often a builder re-announces results the author has not acknowledged. */
export const ANNOUNCE_INTERVAL_MS = 2_000

/** Queued jobs a builder holds beyond its slots before it declines offers. */
export const BUILDER_QUEUE_LIMIT = 32

/** Summary line of a test run carried in a result (characters). */
export const MAX_SUMMARY_CHARS = 500

/** Largest cost (USD) one attempt may report: far above any real agent run, so a garbled figure is refused, not summed. */
export const MAX_REPORTED_COST_USD = 1_000_000

/** Length of a test command. */
export const MAX_TEST_COMMAND_CHARS = 4096

/** Length of a job name, id or prefix a user types. */
export const MAX_JOB_QUERY_CHARS = 100

/** A builder reports `fetching` only when the fetch is still running after this long. */
export const STATUS_DEFER_MS = 100

/** Concurrent job-message streams per connection, each way. */
export const MAX_JOB_STREAMS = 32

/** How long a builder waits for the author to take a result (the author fetches B meanwhile). */
export const RESULT_DELIVERY_TIMEOUT_MS = 10 * 60_000

/** `owns:` globs per job. */
export const MAX_OWNS_GLOBS = 64

/** Characters of one `owns:` glob: a path pattern, not a document. */
export const MAX_OWNS_GLOB_CHARS = 256

/** `after:` dependencies per job. */
export const MAX_AFTER = 64

/** Builders a job fans out to at once. */
export const MAX_FANOUT = 8

/** Queued jobs the author places on a builder beyond its free slots. */
export const BUILDER_QUEUE_SLACK = 2

/** How long a builder's advertised load is trusted before it is asked again. */
export const LOAD_TTL_MS = 1_000

/** How long a builder that could not be asked is left alone: one that is down must not cost a timeout in every pass. */
export const UNREACHABLE_RETRY_MS = 5 * LOAD_TTL_MS

/** Time a builder gets to answer `load`: one silent builder must not hold up placement. */
export const LOAD_REPLY_TIMEOUT_MS = MESSAGE_TIMEOUT_MS / 5

/** How often a builder renews the lease of each job it holds. */
export const LEASE_RENEW_MS = 2_000

/** A job whose builder has not renewed it for this long is lost, and offered elsewhere. */
export const LEASE_MS = 10_000

/** Bound on a builder's fetch of a queued job's snapshot ahead of its start. */
export const PREFETCH_TIMEOUT_MS = 10 * 60_000

/** Time a stopping builder gives each author to take a job back. */
export const HANDBACK_TIMEOUT_MS = 2_000

/** Tags per builder, and their length. */
export const MAX_TAGS = 32
export const MAX_TAG_CHARS = 64

/** A peer id or tag a job may be limited to (`builders`): a peer id is about 52 characters. */
export const MAX_BUILDER_CHARS = 128

/** `builders` a job may be limited to: as many as a builder may advertise tags. */
export const MAX_BUILDERS = MAX_TAGS

/** Peer ids the jobs network keeps parsed (src/jobs/network.ts); only trusted peers are sent to, so this is a guard. */
export const PEER_ID_CACHE_SIZE = 1024
