/** File names inside a node's home, and limits of the home's files. */
export const IDENTITY_FILE = 'identity.key'
export const CONFIG_FILE = 'config.json'
export const DATABASE_FILE = 'gitmesh.db'
export const CONTROL_SOCKET = 'control.sock'

/** Largest config file read (bytes). */
export const MAX_CONFIG_BYTES = 64 * 1024

/** Unix socket paths are limited to 107 bytes on Linux (sun_path). */
export const MAX_SOCKET_PATH_BYTES = 107

/** Variables for a builder's job commands that the daemon itself does not carry (`KEY=value` lines, mode 0600). */
export const SECRETS_FILE = 'secrets.env'
