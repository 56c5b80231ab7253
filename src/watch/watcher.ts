import { open, stat } from 'node:fs/promises'
import path from 'node:path'
import { watch, type FSWatcher } from 'chokidar'
import { DEFAULT_DEBOUNCE_MS, MAX_PROMPT_FILE_BYTES, PROMPT_FILE_EXTENSION } from './constants.js'
import { PromptFileError, WatchPathError } from './errors.js'
import { parsePromptFile, promptDigest, type PromptFile } from './prompt-file.js'

export interface PromptWatcherInit {
  /** A prompt file, or a folder whose `*.md` files (not those in subfolders) are prompt files. */
  path: string
  /**
   * Quiet time after a file's last change event before it is read.
   *
   * @default 300
   */
  debounceMs?: number
  /**
   * What start() does with the files already there: `offer` treats each as saved; `skip` only
   * remembers their content, so only a later change to one offers it.
   *
   * @default 'offer'
   */
  initial?: 'offer' | 'skip'
  /**
   * A file was saved with new content that reads as a task. Called one at a time per file; the
   * signal aborts when the watcher stops. A rejection goes to onError, and the same content is
   * offered again at its next save.
   */
  onTask: (task: PromptFile, options: { signal: AbortSignal }) => Promise<void> | void
  /**
   * A file could not be offered: a PromptFileError when it is broken or cannot be read (reported
   * once per content), the error onTask threw, or an error of the watcher itself (then `file` is
   * the watched path).
   */
  onError: (err: PromptFileError | Error, file: string) => void
  /** A file that was seen is gone; its job is the caller's business. */
  onRemove?: (file: string) => void
  /** A file was saved without a change to its content: nothing was offered. */
  onUnchanged?: (file: string) => void
}

/** What the watcher knows of one file, keyed by its name in the folder. */
interface FileState {
  timer?: NodeJS.Timeout
  /** The running handling, if any; a save meanwhile is queued and handled once after it. */
  running?: Promise<void>
  /** A handling is queued: true when it may offer, false when it only remembers (initial: 'skip'). */
  queued?: boolean
  /** Digest of the content last handled (offered, reported broken, or skipped at start). */
  digest?: string
  /** The file was present when last read: its disappearance is reported. */
  present: boolean
}

/**
 * Watches prompt files and hands each saved change to `onTask`: debounced per file, only when the
 * content changed, one handling at a time per file (different files run concurrently). A broken
 * file is reported to `onError` once and never stops the others.
 *
 * A folder is watched without its subfolders, and only its `*.md` files that are not dotfiles
 * count (editors' swap, backup and temporary files do not). A single file is watched through its
 * folder, so editors that save by renaming a temporary file over it keep working, and it counts
 * whatever its name.
 */
export class PromptWatcher {
  private readonly init: PromptWatcherInit
  private run?: WatchRun
  private starting?: Promise<void>
  private stopping?: Promise<void>

  constructor (init: PromptWatcherInit) {
    this.init = init
  }

  /**
   * Starts watching. Resolves once every file already there has been read and handled: offered
   * (its onTask settled), reported broken, or with `initial: 'skip'` remembered. Rejects with
   * WatchPathError when the path is missing or is neither a file nor a folder. Calling it again
   * while started does nothing; after stop() it starts afresh (every file counts as new).
   */
  async start (): Promise<void> {
    if (this.stopping !== undefined) await this.stopping
    if (this.run === undefined) {
      const run = new WatchRun(this.init)
      this.run = run
      this.starting = run.open().catch(async err => {
        await this.stop()
        throw err
      })
    }
    await this.starting
  }

  /**
   * Stops watching: pending debounces are dropped, the signal given to running onTask calls
   * aborts, and it resolves once those calls have settled. No callback is made after it resolves.
   */
  async stop (): Promise<void> {
    const run = this.run
    if (run === undefined) return
    this.stopping ??= run.close().finally(() => {
      this.run = undefined
      this.starting = undefined
      this.stopping = undefined
    })
    await this.stopping
  }
}

/** One start() to stop() of a PromptWatcher: its chokidar watcher and what it knows of each file. */
class WatchRun {
  private readonly init: PromptWatcherInit
  private readonly debounceMs: number
  private readonly files = new Map<string, FileState>()
  private readonly controller = new AbortController()
  private watcher?: FSWatcher
  /** The folder read, absolute. */
  private dir = ''
  /** The folder as the caller wrote it: callbacks name files from it. */
  private shownDir = ''
  private stopped = false

  constructor (init: PromptWatcherInit) {
    this.init = init
    this.debounceMs = init.debounceMs ?? DEFAULT_DEBOUNCE_MS
  }

  async open (): Promise<void> {
    const given = this.init.path
    const target = path.resolve(given)
    let isFolder: boolean
    try {
      const info = await stat(target)
      if (!info.isDirectory() && !info.isFile()) throw new WatchPathError(given, 'it is neither a file nor a folder')
      isFolder = info.isDirectory()
    } catch (err) {
      if (err instanceof WatchPathError) throw err
      const code = (err as NodeJS.ErrnoException).code
      throw new WatchPathError(given, code === 'ENOENT' ? 'it does not exist' : code ?? (err as Error).message)
    }
    if (this.stopped) return
    const dir = isFolder ? target : path.dirname(target)
    this.dir = dir
    this.shownDir = isFolder ? given : path.dirname(given)
    const accepts = isFolder
      ? (name: string) => name.endsWith(PROMPT_FILE_EXTENSION) && !name.startsWith('.')
      : (name: string) => name === path.basename(target)

    const initial: Array<Promise<void>> = []
    const offerInitial = this.init.initial !== 'skip'
    let ready = false
    const watcher = watch(dir, {
      depth: 0,
      awaitWriteFinish: false,
      ignored: (file, stats) => file !== dir && (stats?.isDirectory() === true || path.dirname(file) !== dir || !accepts(path.basename(file)))
    })
    this.watcher = watcher
    watcher.on('all', (event, file) => {
      if (this.stopped || path.dirname(file) !== dir) return
      const name = path.basename(file)
      if (event === 'add' && !ready) {
        // Files already there are handled at once, not debounced: start() waits for them.
        initial.push(this.handleNow(name, offerInitial))
      } else if (event === 'add' || event === 'change' || event === 'unlink') {
        this.schedule(name)
      }
    })
    watcher.on('error', err => {
      this.report(err instanceof Error ? err : new Error(String(err)), this.init.path)
    })
    await new Promise<void>(resolve => {
      watcher.once('ready', resolve)
      this.controller.signal.addEventListener('abort', () => { resolve() }, { once: true })
    })
    ready = true
    await Promise.all(initial)
  }

  async close (): Promise<void> {
    this.stopped = true
    this.controller.abort()
    for (const state of this.files.values()) clearTimeout(state.timer)
    await this.watcher?.close()
    await Promise.allSettled([...this.files.values()].map(async state => await state.running))
  }

  private state (name: string): FileState {
    let state = this.files.get(name)
    if (state === undefined) {
      state = { present: false }
      this.files.set(name, state)
    }
    return state
  }

  /** A change event: (re)arm the file's debounce. */
  private schedule (name: string): void {
    const state = this.state(name)
    clearTimeout(state.timer)
    state.timer = setTimeout(() => {
      state.timer = undefined
      void this.handleNow(name, true)
    }, this.debounceMs)
  }

  /** Handles the file now, or once more after the running handling when there is one. */
  private async handleNow (name: string, offer: boolean): Promise<void> {
    if (this.stopped) return
    const state = this.state(name)
    if (state.running !== undefined) {
      // However many saves come meanwhile, one more handling reads the newest content.
      state.queued = (state.queued ?? false) || offer
      return await state.running
    }
    const run = async (): Promise<void> => {
      let offering = offer
      while (true) {
        await this.handle(name, state, offering)
        if (state.queued === undefined || this.stopped) return
        offering = state.queued
        state.queued = undefined
      }
    }
    state.running = run().finally(() => { state.running = undefined })
    await state.running
  }

  private async handle (name: string, state: FileState, offer: boolean): Promise<void> {
    const file = path.join(this.shownDir, name)
    let content: { text: string, tooLarge: boolean }
    try {
      content = await readPromptFile(path.join(this.dir, name))
    } catch (err) {
      if (this.stopped) return
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        const wasPresent = state.present
        state.present = false
        state.digest = undefined
        if (wasPresent) this.call(() => this.init.onRemove?.(file))
        return
      }
      // An unreadable file is reported once per kind of failure, not at every event.
      const failure = code ?? (err as Error).message
      state.present = true
      if (state.digest === `unreadable:${failure}`) return
      state.digest = `unreadable:${failure}`
      this.report(new PromptFileError(file, 1, `cannot be read (${failure})`), file)
      return
    }
    if (this.stopped) return
    state.present = true
    const digest = promptDigest(content.text)
    if (digest === state.digest) {
      if (offer) this.call(() => this.init.onUnchanged?.(file))
      return
    }
    state.digest = digest
    if (!offer) return
    let task: PromptFile
    try {
      if (content.tooLarge) throw new PromptFileError(file, 1, `the file is larger than ${MAX_PROMPT_FILE_BYTES} bytes`)
      task = parsePromptFile(content.text, file)
    } catch (err) {
      this.report(err as Error, file)
      return
    }
    try {
      await this.init.onTask(task, { signal: this.controller.signal })
    } catch (err) {
      // Not offered after all: the next save, even an unchanged one, tries again.
      if (state.digest === digest) state.digest = undefined
      this.report(err instanceof Error ? err : new Error(String(err)), file)
    }
  }

  private report (err: Error, file: string): void {
    this.call(() => { this.init.onError(err, file) })
  }

  /** Calls back unless stopped; a callback that throws must not stop the watcher. */
  private call (callback: () => void): void {
    if (this.stopped) return
    try {
      callback()
    } catch {
      // Nowhere better to report it: onError itself may be what threw.
    }
  }
}

/** The file's text, read no further than the limit (a larger file is flagged, not read whole). */
async function readPromptFile (file: string): Promise<{ text: string, tooLarge: boolean }> {
  const handle = await open(file, 'r')
  try {
    // One byte past the limit tells a file at the limit from a larger one.
    const { size } = await handle.stat()
    const buffer = Buffer.alloc(Math.min(size, MAX_PROMPT_FILE_BYTES) + 1)
    let length = 0
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
    }
    return { text: buffer.subarray(0, length).toString('utf8'), tooLarge: length > MAX_PROMPT_FILE_BYTES }
  } finally {
    await handle.close()
  }
}
