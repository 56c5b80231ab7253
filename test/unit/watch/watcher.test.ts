import { chmod, mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PromptWatcher, type PromptWatcherInit } from '../../../src/watch/watcher.js'
import { PromptFileError, WatchPathError } from '../../../src/watch/errors.js'
import type { PromptFile } from '../../../src/watch/prompt-file.js'
import { MAX_PROMPT_FILE_BYTES } from '../../../src/watch/constants.js'

/** Short enough to keep the tests quick, long enough that one writeFile is one save. */
const DEBOUNCE_MS = 100

let dir: string
const watchers: PromptWatcher[] = []

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-watch-'))
})

afterEach(async () => {
  await Promise.all(watchers.splice(0).map(async watcher => { await watcher.stop() }))
  await rm(dir, { recursive: true, force: true })
})

/** Resolves once `predicate` holds, polling; fails after `timeoutMs` saying what it waited for. */
async function until (predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/** Everything a watcher called back, in order. */
interface Recording {
  tasks: PromptFile[]
  errors: Array<{ err: Error, file: string }>
  removed: string[]
  unchanged: string[]
  /** Every callback by kind and file name, to show a test what happened when it fails. */
  log: string[]
}

/** A started watcher over `target` whose callbacks are recorded. */
async function watching (target: string, init: Partial<PromptWatcherInit> = {}): Promise<{ watcher: PromptWatcher, seen: Recording }> {
  const seen: Recording = { tasks: [], errors: [], removed: [], unchanged: [], log: [] }
  const watcher = new PromptWatcher({
    path: target,
    debounceMs: DEBOUNCE_MS,
    onTask: task => { seen.tasks.push(task); seen.log.push(`task ${path.basename(task.file)}`) },
    onError: (err, file) => { seen.errors.push({ err, file }); seen.log.push(`error ${path.basename(file)}`) },
    onRemove: file => { seen.removed.push(file); seen.log.push(`remove ${path.basename(file)}`) },
    onUnchanged: file => { seen.unchanged.push(file); seen.log.push(`unchanged ${path.basename(file)}`) },
    ...init
  })
  watchers.push(watcher)
  await watcher.start()
  return { watcher, seen }
}

const tasksOf = (seen: Recording, name: string): PromptFile[] => seen.tasks.filter(task => path.basename(task.file) === name)
const prompts = (seen: Recording, name: string): string[] => tasksOf(seen, name).map(task => task.prompt)
const write = async (name: string, text: string): Promise<void> => { await writeFile(path.join(dir, name), text) }

/** Saves a new file and waits until it is offered: every event written before it has been acted on by then. */
async function sentinel (seen: Recording, name: string): Promise<void> {
  await write(name, `sentinel ${name}`)
  await until(() => tasksOf(seen, name).length === 1, `${name} to be offered (${seen.log.join(', ')})`)
}

describe('PromptWatcher: start', () => {
  it('offers the prompt files already in the folder before start() resolves, and nothing else', async () => {
    await write('email.md', '---\nname: email\npriority: 3\n---\nValidate email addresses.\n')
    await write('dates.md', 'Parse ISO dates.')
    await write('.hidden.md', 'a dotfile')
    await write('notes.txt', 'not markdown')
    await write('email.md.tmp', 'an editor\'s temporary file')
    await write('email.md~', 'a backup')
    await mkdir(path.join(dir, 'sub'))
    await writeFile(path.join(dir, 'sub', 'nested.md'), 'in a subfolder')
    await mkdir(path.join(dir, 'folder.md'))

    const { seen } = await watching(dir)
    expect(seen.tasks.map(task => path.basename(task.file)).sort()).toEqual(['dates.md', 'email.md'])
    expect(tasksOf(seen, 'email.md')[0]).toMatchObject({ file: path.join(dir, 'email.md'), name: 'email', priority: 3, prompt: 'Validate email addresses.' })
    expect(seen.errors).toEqual([])
  })

  it('ignores dotfiles, other files and subfolders saved while it runs', async () => {
    const { seen } = await watching(dir)
    await write('.email.md.swp', 'swap')
    await write('.hidden.md', 'a dotfile')
    await write('notes.txt', 'not markdown')
    await mkdir(path.join(dir, 'sub'))
    await writeFile(path.join(dir, 'sub', 'nested.md'), 'in a subfolder')
    await sentinel(seen, 'real.md')
    expect(seen.log).toEqual(['task real.md'])
  })

  it('with initial: "skip" offers only files that change after the start', async () => {
    await write('old.md', 'already here')
    await write('edited.md', 'before')
    const { seen } = await watching(dir, { initial: 'skip' })
    expect(seen.log).toEqual([])
    await write('old.md', 'already here')
    await write('edited.md', 'after')
    await until(() => seen.tasks.length === 1 && seen.unchanged.length === 1, `one task and one unchanged (${seen.log.join(', ')})`)
    expect(prompts(seen, 'edited.md')).toEqual(['after'])
    expect(seen.unchanged).toEqual([path.join(dir, 'old.md')])
  })

  it('refuses a path that does not exist', async () => {
    const watcher = new PromptWatcher({ path: path.join(dir, 'missing'), onTask: () => {}, onError: () => {} })
    const err = await watcher.start().then(() => undefined, (e: unknown) => e as Error)
    expect(err).toBeInstanceOf(WatchPathError)
    expect(err?.name).toBe('WatchPathError')
    expect(err?.message).toBe(`cannot watch ${path.join(dir, 'missing')}: it does not exist`)
    await watcher.stop()
  })
})

describe('PromptWatcher: saves', () => {
  it('debounces: three quick writes are one task with the last content', async () => {
    const { seen } = await watching(dir, { debounceMs: 300 })
    await write('email.md', 'first')
    await write('email.md', 'second')
    await write('email.md', 'third')
    await until(() => seen.tasks.length > 0, 'a task')
    expect(prompts(seen, 'email.md')).toEqual(['third'])
    expect(seen.errors).toEqual([])
  })

  it('does not offer a save that left the content as it was', async () => {
    await write('email.md', 'validate email')
    const { seen } = await watching(dir)
    expect(seen.tasks).toHaveLength(1)
    await write('email.md', 'validate email')
    await until(() => seen.unchanged.length === 1, 'the unchanged save')
    await write('email.md', 'validate email, plus addressing too')
    await until(() => seen.tasks.length === 2, 'the changed save')
    expect(prompts(seen, 'email.md')).toEqual(['validate email', 'validate email, plus addressing too'])
    expect(tasksOf(seen, 'email.md')[0]?.digest).not.toBe(tasksOf(seen, 'email.md')[1]?.digest)
  })

  it('takes a save by rename (write x.md.tmp, rename it over x.md) in a folder', async () => {
    await write('x.md', 'version one')
    const { seen } = await watching(dir)
    await write('x.md.tmp', 'version two')
    await rename(path.join(dir, 'x.md.tmp'), path.join(dir, 'x.md'))
    await until(() => seen.tasks.length === 2, `the renamed save (${seen.log.join(', ')})`)
    expect(prompts(seen, 'x.md')).toEqual(['version one', 'version two'])
    await sentinel(seen, 'later.md')
    // A late duplicate event may find x.md unchanged; nothing else may happen.
    expect(seen.log.filter(entry => !entry.startsWith('unchanged'))).toEqual(['task x.md', 'task x.md', 'task later.md'])
  })

  it('takes a save by rename when watching the one file, and ignores its neighbours', async () => {
    await write('x.md', 'version one')
    await write('other.md', 'not watched')
    const { seen } = await watching(path.join(dir, 'x.md'))
    expect(seen.log).toEqual(['task x.md'])
    expect(seen.tasks[0]?.file).toBe(path.join(dir, 'x.md'))
    await write('other.md', 'still not watched')
    await write('x.md.tmp', 'version two')
    await rename(path.join(dir, 'x.md.tmp'), path.join(dir, 'x.md'))
    await until(() => seen.tasks.length === 2, `the renamed save (${seen.log.join(', ')})`)
    await write('x.md.tmp', 'version three')
    await rename(path.join(dir, 'x.md.tmp'), path.join(dir, 'x.md'))
    await until(() => seen.tasks.length === 3, `the second renamed save (${seen.log.join(', ')})`)
    expect(prompts(seen, 'x.md')).toEqual(['version one', 'version two', 'version three'])
    expect(seen.removed).toEqual([])
  })

  it('reports a broken file once, keeps offering the others, and offers it once fixed', async () => {
    const broken = '---\nname: email\npriority: high\n---\nValidate email.\n'
    await write('email.md', broken)
    await write('dates.md', 'Parse dates.')
    const { seen } = await watching(dir)
    expect(seen.log.sort()).toEqual(['error email.md', 'task dates.md'])
    const first = seen.errors[0]
    expect(first?.file).toBe(path.join(dir, 'email.md'))
    expect(first?.err).toBeInstanceOf(PromptFileError)
    expect(first?.err.message).toBe(`${path.join(dir, 'email.md')}:3: priority: must be a whole number between -1000 and 1000`)

    // Saving the same broken content is not reported again; other files still work.
    await write('email.md', broken)
    await until(() => seen.unchanged.length === 1, 'the unchanged broken save')
    await write('dates.md', 'Parse dates, with time zones.')
    await until(() => tasksOf(seen, 'dates.md').length === 2, 'the second dates.md')
    expect(seen.errors).toHaveLength(1)

    // Broken differently: reported again, at its own line.
    await write('email.md', '---\nname: email\n\nfanout: 20\n---\nValidate email.\n')
    await until(() => seen.errors.length === 2, 'the second error')
    expect((seen.errors[1]?.err as PromptFileError).line).toBe(4)

    await write('email.md', '---\nname: email\npriority: 10\n---\nValidate email.\n')
    await until(() => tasksOf(seen, 'email.md').length === 1, 'the fixed email.md')
    expect(tasksOf(seen, 'email.md')[0]).toMatchObject({ name: 'email', priority: 10 })
  })

  it('reports a file too large to be a prompt without reading it whole, once', async () => {
    const big = 'a'.repeat(MAX_PROMPT_FILE_BYTES + 1)
    await write('big.md', big)
    const { seen } = await watching(dir)
    expect(seen.errors.map(({ err }) => err.message)).toEqual([`${path.join(dir, 'big.md')}:1: the file is larger than ${MAX_PROMPT_FILE_BYTES} bytes`])
    await write('big.md', big)
    await until(() => seen.unchanged.length === 1, 'the unchanged save')
    expect(seen.errors).toHaveLength(1)
  })

  // chokidar does not report files it may not read; as root every file is readable.
  it.skipIf(process.getuid?.() === 0)('passes over a file it cannot read, and offers it once it can', async () => {
    await write('locked.md', 'validate email')
    await chmod(path.join(dir, 'locked.md'), 0o000)
    const { seen } = await watching(dir)
    expect(seen.log).toEqual([])
    await chmod(path.join(dir, 'locked.md'), 0o644)
    await write('locked.md', 'validate email')
    await until(() => seen.tasks.length === 1, 'the readable file')
    expect(seen.errors).toEqual([])
  })

  it('reports a removed file, and offers it again when it comes back', async () => {
    await write('email.md', 'validate email')
    const { seen } = await watching(dir)
    await unlink(path.join(dir, 'email.md'))
    await until(() => seen.removed.length === 1, 'the removal')
    expect(seen.removed).toEqual([path.join(dir, 'email.md')])
    await write('email.md', 'validate email')
    await until(() => seen.tasks.length === 2, 'the file back')
    expect(seen.log.filter(entry => !entry.startsWith('unchanged'))).toEqual(['task email.md', 'remove email.md', 'task email.md'])
  })

  it('reports a failed onTask, and offers the same content again at its next save', async () => {
    await write('email.md', 'validate email')
    let fail = true
    const offered: PromptFile[] = []
    const { seen } = await watching(dir, {
      onTask: task => {
        if (fail) throw new Error('no builders')
        offered.push(task)
      }
    })
    expect(seen.errors.map(({ err }) => err.message)).toEqual(['no builders'])
    expect(seen.errors[0]?.file).toBe(path.join(dir, 'email.md'))
    fail = false
    await write('email.md', 'validate email')
    await until(() => offered.length === 1, 'the retried task')
    expect(offered[0]?.prompt).toBe('validate email')
    expect(seen.unchanged).toEqual([])
  })
})

describe('PromptWatcher: one handling at a time per file', () => {
  it('queues one more handling, with the newest content, for saves during a running onTask; other files go on', async () => {
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let running = 0
    let mostRunning = 0
    const { seen } = await watching(dir, {
      onTask: async task => {
        seen.tasks.push(task)
        seen.log.push(`task ${path.basename(task.file)}`)
        if (path.basename(task.file) !== 'email.md') return
        running++
        mostRunning = Math.max(mostRunning, running)
        if (task.prompt === 'v1') await gate
        running--
      }
    })
    await write('email.md', 'v1')
    await until(() => running === 1, 'the first onTask to be running')
    await write('email.md', 'v2')
    // Other files are offered while email.md's onTask runs; by then v2's debounce has fired.
    await sentinel(seen, 'a.md')
    await write('email.md', 'v3')
    await sentinel(seen, 'b.md')
    expect(prompts(seen, 'email.md')).toEqual(['v1'])
    release()
    await until(() => tasksOf(seen, 'email.md').length === 2, 'the queued handling')
    await sentinel(seen, 'c.md')
    expect(prompts(seen, 'email.md')).toEqual(['v1', 'v3'])
    expect(mostRunning).toBe(1)
  })
})

describe('PromptWatcher: stop', () => {
  it('makes no callback after stop(), drops pending saves and releases its file watches', async () => {
    const watches = (): number => process.getActiveResourcesInfo().filter(kind => kind === 'FSEventWrap').length
    const before = watches()
    await write('email.md', 'v1')
    const { watcher, seen } = await watching(dir)
    // A second watcher shows that the saves below happened and were debounced.
    const { seen: witness } = await watching(dir)
    expect(watches()).toBeGreaterThan(before)
    expect(seen.log).toEqual(['task email.md'])

    await write('email.md', 'v2') // pending in its debounce when stop() is called
    await watcher.stop()
    await watcher.stop() // twice is fine
    const after = seen.log.length
    await write('new.md', 'after stop')
    await until(() => witness.tasks.length === 3, `the witness to see both saves (${witness.log.join(', ')})`)
    expect(prompts(witness, 'email.md')).toEqual(['v1', 'v2'])
    expect(seen.log).toHaveLength(after)
    expect(seen.log).toEqual(['task email.md'])

    await watchers[1]?.stop()
    // Closing an fs watch completes on a later turn of the event loop.
    await until(() => watches() <= before, 'the file watches to be closed')
  })

  it('aborts the signal of a running onTask and waits for it to settle', async () => {
    await write('slow.md', 'slow')
    let settled = false
    let signal: AbortSignal | undefined
    let entered!: () => void
    const inside = new Promise<void>(resolve => { entered = resolve })
    const watcher = new PromptWatcher({
      path: dir,
      debounceMs: DEBOUNCE_MS,
      initial: 'skip',
      onTask: async (_task, options) => {
        signal = options.signal
        entered()
        await new Promise(resolve => { options.signal.addEventListener('abort', resolve, { once: true }) })
        settled = true
      },
      onError: () => {}
    })
    watchers.push(watcher)
    await watcher.start()
    await write('slow.md', 'slower')
    await inside
    expect(signal?.aborted).toBe(false)
    await watcher.stop()
    expect(signal?.aborted).toBe(true)
    expect(settled).toBe(true)
  })

  it('can start again after stop, counting every file as new', async () => {
    await write('email.md', 'validate email')
    const { watcher, seen } = await watching(dir)
    await watcher.stop()
    await watcher.start()
    expect(prompts(seen, 'email.md')).toEqual(['validate email', 'validate email'])
    await write('email.md', 'validate email addresses')
    await until(() => seen.tasks.length === 3, 'a save after the restart')
  })
})
