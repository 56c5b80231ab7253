/** Defaults and limits of watched prompt files. Every figure belongs in docs/limits.md. */

/** The folder `gitmesh watch` watches when no path is given, relative to the repository. */
export const DEFAULT_PROMPTS_DIR = '.gitmesh/prompts'

/** In a watched folder only files with this extension are prompt files (case matters, as in git). */
export const PROMPT_FILE_EXTENSION = '.md'

/** Quiet time after a file's last change event before it is read: editors write a file in several steps. */
export const DEFAULT_DEBOUNCE_MS = 300

/** Largest prompt file read: the longest prompt plus generous front matter; a larger file is an error, not read whole. */
export const MAX_PROMPT_FILE_BYTES = 512 * 1024

// The limits a prompt file shares with an offer are the jobs' own, so a valid file is a valid offer.
export { MAX_PROMPT_CHARS, MAX_NAME_CHARS, MIN_PRIORITY, MAX_PRIORITY, MAX_FANOUT, MAX_ATTEMPTS } from '../jobs/constants.js'

export const DEFAULT_PRIORITY = 0
export const DEFAULT_FANOUT = 1

/** Longest peer id or tag in `builders` (a peer id is about 52 characters). */
export const MAX_BUILDER_CHARS = 128

/** Longest glob in `owns`. */
export const MAX_GLOB_CHARS = 256

/** Most entries in one list (`after`, `owns`, `builders`). */
export const MAX_LIST_ENTRIES = 64
