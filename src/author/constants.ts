/** Defaults of the author's housekeeping; docs/limits.md lists each. */

/** `gitmesh prune` without `--older-than`: two weeks after a job's last change, its review is long over. */
export const DEFAULT_PRUNE_AGE_MS = 14 * 24 * 60 * 60 * 1000

/** Refs one `git update-ref --stdin` of a prune deletes at once: one process per repository, bounded input. */
export const MAX_REFS_PER_DELETE = 1_000
