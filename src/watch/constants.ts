/** Defaults and limits of watched prompt files. Every figure belongs in docs/limits.md. */

/** The folder `gitmesh watch` watches when no path is given, relative to the repository. */
export const DEFAULT_PROMPTS_DIR = '.gitmesh/prompts'

/** In a watched folder only files with this extension are prompt files (case matters, as in git). */
export const PROMPT_FILE_EXTENSION = '.md'

/** Quiet time after a file's last change event before it is read: editors write a file in several steps. */
export const DEFAULT_DEBOUNCE_MS = 300

/** Largest prompt file read: the longest prompt plus generous front matter; a larger file is an error, not read whole. */
export const MAX_PROMPT_FILE_BYTES = 512 * 1024

// A prompt file's options are checked by the jobs' own schema (src/jobs/task-options.ts), so a
// valid file is a valid offer: their limits live in src/jobs/constants.ts.
