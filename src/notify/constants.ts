/** Limits of hooks and desktop notifications ("knowing when to look"); docs/limits.md lists each. */

/** Events that need the user: a result arrived, a job failed, a merge left conflicts. */
export const HOOK_EVENTS = ['returned', 'failed', 'conflicts'] as const

/** Time a hook command gets; then its process group is ended: a hung hook must not hold back the next one. */
export const HOOK_TIMEOUT_MS = 30_000

/** Time a desktop notification command (`notify-send`, `osascript`) gets: it returns at once when it works. */
export const NOTIFY_TIMEOUT_MS = 5_000

/** Events waiting for their hooks; past it an event's hooks are skipped (and logged): a burst of results cannot queue without bound. */
export const MAX_QUEUED_EVENTS = 64

/** Hooks one node may have, from `--on-event` and the config together. */
export const MAX_HOOKS = 16

/** A hook's command line. */
export const MAX_HOOK_COMMAND_CHARS = 4_096

/** A hook's stderr kept for the message when it fails (the tail). */
export const MAX_HOOK_STDERR_CHARS = 2_048

/** Events remembered so that a job's later changes in the same state (a second fan-out result, a merge's test outcome) do not repeat it. */
export const MAX_REMEMBERED_EVENTS = 4_096
