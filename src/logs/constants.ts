/** Defaults and limits of live logs (builder → author). Every figure is listed in docs/limits.md. */

/**
 * A builder sends a batch once this much output waits, without waiting for the timer: a whole
 * message (each message costs the builder a stream, its negotiation and its encryption).
 */
export const LOG_BATCH_BYTES = 256 * 1024

/**
 * A builder sends what waits this long after its first unsent byte: a line shows at the author
 * within tens of milliseconds, and a command that prints fast still goes out in few messages.
 */
export const LOG_FLUSH_MS = 20

/**
 * Output arriving faster than this within `LOG_FLUSH_MS` is a flood, not lines for a person: its
 * batch waits up to `LOG_BULK_FLUSH_MS` (or `LOG_BATCH_BYTES`), so a chatty command costs the
 * builder a few batches a second rather than fifty.
 */
export const LOG_BULK_BYTES = 8 * 1024

/** How long a flood's batch may wait after its first unsent byte: under two messages a second. */
export const LOG_BULK_FLUSH_MS = 600

/**
 * Output a builder gathers before it sends, however early (`LOG_BATCH_BYTES` pieces of it, kept
 * apart in the spool so that each can still go as plain `text`): one deflated message.
 */
export const LOG_SEND_BYTES = 1024 * 1024

/**
 * Largest `text` of one `log` message (bytes of UTF-8): the batches kept while one was in flight
 * go out together up to this, so a fast command costs few messages; far under the frame cap.
 */
export const MAX_LOG_TEXT_BYTES = 256 * 1024

/**
 * Largest `deflated` of one `log`, and largest text it inflates to: a flood goes in a quarter of
 * the messages; the author stops inflating here, so a bomb costs it at most this much.
 */
export const MAX_LOG_INFLATED_BYTES = 1024 * 1024

/**
 * A batch the author has not confirmed this long after it was made is written to the database
 * (as is every batch once a send fails): an author that answers promptly costs no disk write.
 */
export const LOG_SPILL_MS = 1_000

/** Unconfirmed output a builder keeps in memory per job round (a message in flight and the next one gathering); past it the oldest is written to the database. */
export const LOG_MEMORY_BYTES = 3 * 1024 * 1024

/**
 * Offsets a stream reserves in the database ahead of its output: its end is written once per this
 * many bytes, not per batch, and after a crash the round's output continues past the reservation
 * (what was lost is a `gap`), never at an offset the author already holds.
 */
export const LOG_OFFSET_RESERVE_BYTES = 4 * 1024 * 1024

/** Output an author keeps per attempt; past it the oldest chunks of that attempt are dropped. */
export const MAX_ATTEMPT_LIVE_LOG_BYTES = 4 * 1024 * 1024

/** Output a builder keeps per job round that its author has not taken yet (the oldest goes first). */
export const MAX_SPOOL_BYTES = 16 * 1024 * 1024

/** A builder tries again this long after a `log` it could not deliver (and whenever the author connects). */
export const LOG_RETRY_MS = 2_000

/** Time an author gets to answer one `log`. */
export const LOG_SEND_TIMEOUT_MS = 10_000

/** How long a builder waits for its log to reach the author before it announces the job's result. */
export const LOG_DRAIN_TIMEOUT_MS = 5_000

/** Lines of the current attempt's log that `gitmesh show` prints. */
export const LOG_TAIL_LINES = 10

/** Chunk text one `logs` control reply carries at most; the caller asks again from `next`. */
export const MAX_LOGS_PAGE_BYTES = 512 * 1024

/** Lines a `logs` call may ask for with `tail`. */
export const MAX_LOGS_TAIL_LINES = 1_000

/**
 * A batch at least this large goes deflated to an author that takes it (protocol/jobs.md §5.10):
 * a flood's bytes cost the builder per byte on the way out (Noise, Yamux, the socket), a lone
 * line is not worth compressing.
 */
export const LOG_DEFLATE_MIN_BYTES = 1024

/** zlib level of a deflated batch: level 1 takes agent and test output to about a third at a third of level 6's cost. */
export const LOG_DEFLATE_LEVEL = 1
