/** Names and defaults of `gitmesh service`; docs/limits.md lists each. */

/** The systemd user unit's name: `systemctl --user status gitmesh`. */
export const SYSTEMD_UNIT = 'gitmesh.service'

/** The launchd agent's label, also its file name with `.plist`. */
export const LAUNCHD_LABEL = 'dev.gitmesh.daemon'

/** Seconds systemd waits before restarting a daemon that failed: a crash loop does not spin. */
export const RESTART_DELAY_S = 5

/** launchd's shortest time between starts (seconds), for the same reason (ThrottleInterval). */
export const LAUNCHD_THROTTLE_S = 10

/** The file in the node's home that a launchd agent's output goes to (systemd has the journal). */
export const LAUNCHD_LOG_FILE = 'daemon.log'

/** Platforms `gitmesh service` writes a file for. */
export const SERVICE_PLATFORMS = ['linux', 'darwin'] as const
export type ServicePlatform = typeof SERVICE_PLATFORMS[number]

/** Time `--enable` gives `systemctl` or `launchctl`. */
export const SERVICE_COMMAND_TIMEOUT_MS = 30_000
