/** Defaults and limits of watched prompt files. Every figure belongs in docs/limits.md. */

/** The folder `gitmesh watch` watches when no path is given, relative to the repository. */
export const DEFAULT_PROMPTS_DIR = '.gitmesh/prompts'

/** In a watched folder only files with this extension are prompt files (case matters, as in git). */
export const PROMPT_FILE_EXTENSION = '.md'

/** Quiet time after a file's last change event before it is read: editors write a file in several steps. */
export const DEFAULT_DEBOUNCE_MS = 300

/** Largest prompt file read: the longest prompt plus generous front matter; a larger file is an error, not read whole. */
export const MAX_PROMPT_FILE_BYTES = 512 * 1024

/** Longest prompt (characters), the same figure as jobs' MAX_PROMPT_CHARS so a valid file is a valid offer. */
export const MAX_PROMPT_CHARS = 256 * 1024

/** Longest job name, the same figure as jobs' MAX_NAME_CHARS. */
export const MAX_NAME_CHARS = 48

/** `priority` range: wide enough to interleave, narrow enough to read at a glance. */
export const MIN_PRIORITY = -1000
export const MAX_PRIORITY = 1000
export const DEFAULT_PRIORITY = 0

/** `fanout` range: more than a handful of candidates for one job is more review than anyone does. */
export const MAX_FANOUT = 8
export const DEFAULT_FANOUT = 1

/** Upper bound on `attempts`, the same figure as jobs' MAX_ATTEMPTS. */
export const MAX_ATTEMPTS = 20

/** Longest peer id or tag in `builders` (a peer id is about 52 characters). */
export const MAX_BUILDER_CHARS = 128

/** Longest glob in `owns`. */
export const MAX_GLOB_CHARS = 256

/** Most entries in one list (`after`, `owns`, `builders`). */
export const MAX_LIST_ENTRIES = 64
