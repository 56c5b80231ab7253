/** Limits of the local control API. Every figure is listed in docs/limits.md. */

/** Largest request line a CLI may send to the daemon (bytes). */
export const MAX_CONTROL_REQUEST_BYTES = 1024 * 1024

/** How long a CLI waits to connect to the control socket before saying the daemon is not running. */
export const CONTROL_CONNECT_TIMEOUT_MS = 2_000

/** While a peer overruns the buffer budget, the daemon collects the garbage of its flood at most this often. */
export const FLOOD_COLLECT_INTERVAL_MS = 250

/** The first collection after a flood: this long after its streams have released every buffered byte. */
export const FLOOD_COLLECT_DELAY_MS = 100

/** The last collection after a flood, this long after the first: the streams' teardown in the muxer is over by then. */
export const FLOOD_COLLECT_SETTLE_MS = 1_000

/** `gitmesh doctor`: how long it tries to open a TCP connection to one of the node's own listen addresses. */
export const DOCTOR_LISTEN_PROBE_MS = 2_000

/** `gitmesh doctor`: how long it waits to connect to a trusted peer and hear which roles that peer trusts it with. */
export const DOCTOR_PEER_TIMEOUT_MS = 5_000

/** `gitmesh doctor`: how long one check command may run (finding the generator or the test program, the agent's `--version`). */
export const DOCTOR_COMMAND_TIMEOUT_MS = 10_000
