/**
 * A prompt file that cannot be offered: broken front matter, an unknown key, a value out of range,
 * no prompt. The message reads like a compiler's, `prompts/email.md:3: priority: must be …`, so
 * editors and terminals can jump to it.
 */
export class PromptFileError extends Error {
  override readonly name = 'PromptFileError'
  constructor (
    /** The file as the caller named it. */
    readonly file: string,
    /** 1-based line of the problem in the file (1 when it has no better place). */
    readonly line: number,
    /** The problem alone, without the file and line. */
    readonly reason: string
  ) {
    super(`${file}:${line}: ${reason}`)
  }
}

/** The path given to a PromptWatcher cannot be watched: missing, or neither a file nor a folder. */
export class WatchPathError extends Error {
  override readonly name = 'WatchPathError'
  constructor (readonly path: string, reason: string) {
    super(`cannot watch ${path}: ${reason}`)
  }
}
