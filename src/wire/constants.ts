/** Limits of the wire layer. Every figure is listed in docs/limits.md. */

/** Largest frame accepted, checked from the length prefix before a byte of the body is decoded. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024

/** A length prefix is an unsigned varint; more bytes than this cannot describe a legal frame. */
export const MAX_LENGTH_PREFIX_BYTES = 4

/** Buffered unread bytes at which a reader pauses its stream (the muxer then stops the sender). */
export const READ_HIGH_WATER_BYTES = 8 * 1024 * 1024

/**
 * Bytes that frame readers may hold for one peer, over all its connections and streams: past
 * it, a frame that is not yet whole cannot grow (its stream is reset) and whole frames waiting
 * to be read pause their stream. A fetch stream at the read high-water mark fits, with room.
 */
export const BUFFER_BUDGET_PEER_BYTES = 16 * 1024 * 1024

/** The same for every peer together (four peers' worth): what buffered frames may cost a node. */
export const BUFFER_BUDGET_DAEMON_BYTES = 64 * 1024 * 1024

/** cbor-x counts items, not bytes: these bound what one decoded frame may allocate. */
export const MAX_CBOR_ARRAY_ITEMS = 200_000
export const MAX_CBOR_MAP_ENTRIES = 64

/** CBOR nesting depth: deeper than any message needs (a want is a map of arrays of byte strings: depth 3). */
export const MAX_CBOR_DEPTH = 8
