/** Defaults and limits of the built-in generators. Every figure belongs in docs/limits.md. */

/** Variable naming the prompt file; the builder sets it for every generator it runs. */
export const PROMPT_FILE_ENV = 'GITMESH_PROMPT_FILE'

/** Largest prompt file read (bytes): a prompt plus appended test output for every attempt stays far below this. */
export const MAX_PROMPT_FILE_BYTES = 16 * 1024 * 1024

/** Shortest code fence, as in CommonMark: two backticks are inline code, not a block. */
export const MIN_FENCE_LENGTH = 3

/** Indentation a fence may have, as in CommonMark: four spaces make an indented code block instead. */
export const MAX_FENCE_INDENT = 3

/** Exit code when the prompt names no file to write or no prompt file is given; the same as `gitmesh`'s usage code. */
export const EXIT_NOTHING_TO_DO = 2

/** Exit code when the prompt file cannot be read or a block cannot be written. */
export const EXIT_FAILED = 1
