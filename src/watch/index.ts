/**
 * @packageDocumentation
 *
 * Watched prompt files: each Markdown file in a folder (default `.gitmesh/prompts/`) is one task,
 * with optional YAML front matter (`name`, `after`, `owns`, `priority`, `fanout`, `attempts`,
 * `builders`, `stack`, `fanout_stop`). Saving a file, debounced and only when its content changed, hands the task over.
 *
 * @example
 * ```ts
 * const watcher = new PromptWatcher({
 *   path: path.join(repo, DEFAULT_PROMPTS_DIR),
 *   onTask: async (task, { signal }) => { await offer(task, { signal }) },
 *   onError: (err, file) => { console.error(err.message) }, // "prompts/email.md:3: priority: must be …"
 *   onRemove: file => { console.log(`${file} removed`) }
 * })
 * await watcher.start() // the files already there have been offered
 * // … until interrupted:
 * await watcher.stop()
 * ```
 */
export { PromptWatcher, type PromptWatcherInit } from './watcher.js'
export { parsePromptFile, promptDigest, FrontMatterSchema, type FrontMatter, type PromptFile } from './prompt-file.js'
export { PromptFileError, WatchPathError } from './errors.js'
export { DEFAULT_PROMPTS_DIR, DEFAULT_DEBOUNCE_MS, PROMPT_FILE_EXTENSION, MAX_PROMPT_FILE_BYTES } from './constants.js'
