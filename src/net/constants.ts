/** Defaults and limits of the libp2p node. Every figure is listed in docs/limits.md. */

/** Listen address when none is configured: a free TCP port on all interfaces. */
export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/0'

/**
 * Inbound connections accepted per second from one host. libp2p's default (5) resets the quick
 * loopback dials of several local nodes; only trusted peers pass the gater anyway.
 */
export const INBOUND_CONNECTION_THRESHOLD = 100

/**
 * Connections one peer may hold to this node (inbound beyond it are refused by the gater). One
 * is the norm, two when both sides dial at once; each connection brings its own stream limits.
 */
export const MAX_CONNECTIONS_PER_PEER = 2

/** An admitted inbound connection not seen open after this long stops counting against its peer. */
export const ADMISSION_TIMEOUT_MS = 5_000

/** Connections still in their handshake at once. */
export const MAX_INCOMING_PENDING_CONNECTIONS = 64

/**
 * Streams a peer may open at once on one connection, over every protocol: the job protocol's 32
 * (MAX_JOB_STREAMS) and the object exchange's 16 (its MAX_INBOUND_STREAMS), plus 8 for identify,
 * identify push, ping and streams still negotiating or closing. The muxer resets one past it at
 * once, before its protocol is negotiated, so the peer never sends it data; past a protocol's own
 * limit (checked only after negotiation) the peer has already sent a 256 KiB window of it.
 */
export const MAX_INBOUND_STREAMS_PER_CONNECTION = 56

/** Yamux per-stream receive window ceiling: bounded so a paused reader never buffers past MAX_STREAM_READ_BUFFER. */
export const MAX_STREAM_WINDOW_BYTES = 4 * 1024 * 1024

/** Unread bytes a stream may hold before the muxer aborts it (window plus headroom). */
export const MAX_STREAM_READ_BUFFER_BYTES = 16 * 1024 * 1024

/** How often connected trusted peers are pinged to refresh their round-trip time. */
export const PING_INTERVAL_MS = 30_000
