/** Limits and defaults of the agent presets and of how a builder treats their outcomes. Every figure belongs in docs/limits.md. */

/** Longest line of an agent's output read as JSON (bytes): a streaming event is a few KiB; a longer line is a tool's dump, skipped unread. */
export const MAX_AGENT_JSON_LINE_BYTES = 256 * 1024

/** Lines of an agent's output read as JSON, the newest: the events that decide an outcome (result, turn.failed) come last. */
export const MAX_AGENT_JSON_LINES = 10_000

/** Length of an agent's message carried into a result's error or a progress line (chars): a sentence or two, never a dump. */
export const MAX_AGENT_MESSAGE_CHARS = 500

/** Largest token count or cost read from an agent's output; anything larger is a parsing accident, not usage. */
export const MAX_USAGE_TOKENS = 2 ** 32 - 1
export const MAX_USAGE_COST_USD = 1_000_000

/** Times one attempt is rerun after a rate limit before the job fails with the agent's message: six waits cover most per-minute and hourly limits. */
export const MAX_RATE_LIMIT_WAITS = 6

/** First wait after a rate limit when the agent names no time (doubled on each further limit of the same attempt). */
export const RATE_LIMIT_BACKOFF_MS = 30_000

/** Longest single wait after a rate limit, whatever the agent asks for: a daily quota is not waited out on a builder slot. */
export const MAX_RATE_LIMIT_WAIT_MS = 15 * 60_000

/** Shortest wait after a rate limit: an agent asking for 0 s (or a time already past) still does not get a tight loop. */
export const MIN_RATE_LIMIT_WAIT_MS = 1_000
