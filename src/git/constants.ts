/** Limits and defaults of the git layer. Every figure is listed in docs/limits.md. */

/** Length of a SHA-1 object id in bytes; gitmesh supports SHA-1 repositories only. */
export const OID_BYTES = 20

/** Largest tree we parse in-process (bytes); real trees are far smaller, so a bigger one is hostile. */
export const MAX_TREE_BYTES = 16 * 1024 * 1024

/** Largest single git command output we buffer in memory (bytes). */
export const MAX_GIT_OUTPUT_BYTES = 256 * 1024 * 1024

/** Identity written into snapshot commits, so snapshots never depend on the user's git config. */
export const SNAPSHOT_IDENTITY = {
  name: 'gitmesh',
  email: 'gitmesh@localhost'
}

/** Message of a snapshot commit. */
export const SNAPSHOT_MESSAGE = 'gitmesh snapshot\n'

/** Symbolic refs followed when reading HEAD before giving up (git's own limit is 5). */
export const MAX_SYMREF_DEPTH = 5
