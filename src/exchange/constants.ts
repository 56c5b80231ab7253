/** Protocol id, defaults and limits of the object exchange. Every figure is listed in docs/limits.md. */

export const OBJECTS_PROTOCOL = '/gitmesh/objects/1.0.0'

/** Want commits in one request: a fetch names a handful of snapshots, never thousands. */
export const MAX_WANTS = 64

/** Have commits in one request: enough to describe every recent snapshot the fetcher holds. */
export const MAX_HAVES = 64

/** Already-stored objects a resumed request may list (a 4 MiB frame holds ~180,000 ids). */
export const MAX_SKIP = 150_000

/**
 * Objects one response may announce (`accept.objects`): a snapshot of a very large tree (Linux:
 * about 90,000 objects) fits ten times over, and a server cannot announce 2³² and keep sending.
 */
export const MAX_RESPONSE_OBJECTS = 1_000_000

/** Preferred delta bases offered to pack-objects; git uses at most its delta window (10). */
export const MAX_PREFERRED_BASES = 10

/** Objects per pack on the wire: a cut connection loses at most one pack's worth. */
export const OBJECTS_PER_PACK = 4096

/**
 * Delta window for packs sent to a fetcher with no usable haves (a cold fetch). A snapshot's files
 * rarely delta against each other (lodash: 5 % bigger without the search) while git's search costs
 * about 0.1 ms per loose object; on the local networks gitmesh runs on, sending beats searching.
 * Incremental packs keep git's default window, since deltas against the haves are what make them small.
 */
export const COLD_DELTA_WINDOW = 0

/** Bytes of pack data per `data` frame, well under the frame cap. */
export const DATA_FRAME_BYTES = 256 * 1024

/** Length of a refusal or error message sent to a peer. */
export const MAX_STATUS_MESSAGE_CHARS = 512

/** Concurrent inbound fetch streams served per connection and in total. */
export const MAX_INBOUND_STREAMS = 16
export const MAX_OUTBOUND_STREAMS = 16

/** A request frame must arrive this soon after the stream opens. */
export const REQUEST_TIMEOUT_MS = 10_000

/** Time to write a refusal and close the stream after a failed request; then the stream is reset. */
export const REPLY_TIMEOUT_MS = 1_000

/** Default bound on one whole fetch, cold transfers of large repositories included. */
export const FETCH_TIMEOUT_MS = 10 * 60_000

/** Attempts a fetch makes when the connection is cut mid-transfer (each resumes the last). */
export const FETCH_ATTEMPTS = 3

/** Granted roots checked for ancestry when a want is not itself a granted root (newest grants first). */
export const MAX_ANCESTRY_CHECKS = 16

/** Repositories whose object stores (and cat-file processes) stay open; the least recently used closes. */
export const MAX_OPEN_STORES = 32

/** An evicted store closes after this long, so requests already using it finish. */
export const STORE_CLOSE_DELAY_MS = 60_000
