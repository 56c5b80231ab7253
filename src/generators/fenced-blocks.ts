/**
 * The built-in deterministic generator: writes the fenced code blocks of a prompt whose info
 * string names a path into the worktree. It needs no network and no model, so the demo and the
 * tests use it, wired as `gitmesh generate-blocks`.
 *
 * A prompt such as
 *
 * ````markdown
 * Write a function to validate email addresses.
 *
 * ```ts path=src/email.ts
 * export const isEmail = (s: string): boolean => s.includes('@')
 * ```
 * ````
 *
 * writes `src/email.ts`. The path may be quoted (`path="docs/my notes.md"`); fences are ``` or
 * ~~~, three or more long, closed by a fence of the same character at least as long, so a block
 * may hold shorter fences of its own.
 *
 * **Later blocks win, and that is what makes retries work.** On a failed attempt the builder
 * appends the test output to the prompt and runs the generator again on the longer prompt. A test
 * that prints a fenced block with a path in its failure output therefore hands the next attempt
 * a replacement for that file: the prompt of attempt 2 reads
 *
 * ````markdown
 * Write a function to validate email addresses.
 *
 * ```ts path=src/email.ts
 * export const isEmail = (s: string): boolean => s.includes('@')
 * ```
 *
 * FAIL test/email.test.ts > rejects "a@b" … the fix:
 * ```ts path=src/email.ts
 * export const isEmail = (s: string): boolean => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(s)
 * ```
 * ````
 *
 * and both blocks name `src/email.ts`, so the second (the fix) is what gets written. This holds
 * only while the test output is appended as plain text: inside a fence of its own its blocks are
 * content of that fence, not blocks.
 */
import { lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { UnsafePathError } from '../git/errors.js'
import { checkEntryName } from '../git/path-safety.js'
import { EXIT_FAILED, EXIT_NOTHING_TO_DO, MAX_FENCE_INDENT, MAX_PROMPT_FILE_BYTES, MIN_FENCE_LENGTH, PROMPT_FILE_ENV } from './constants.js'

export interface FencedBlock {
  /** The path exactly as the info string gives it (unquoted); checked only when applied. */
  path: string
  /** Everything between the fence lines, trailing newline included; line endings untouched. */
  content: string
  /** The whole info string after the opening fence, trimmed. */
  info: string
  /** 1-based line number of the opening fence. */
  line: number
}

/** A block's path would write outside the worktree, into `.git`, through a symbolic link, or nowhere. */
export class UnsafeBlockPathError extends Error {
  override readonly name = 'UnsafeBlockPathError'
  constructor (readonly path: string, readonly reason: string, readonly line?: number) {
    super(`refusing to write ${JSON.stringify(path)}${line !== undefined ? ` (block at line ${line})` : ''}: ${reason}`)
  }
}

const OPENING_FENCE = new RegExp(`^ {0,${MAX_FENCE_INDENT}}(\`{${MIN_FENCE_LENGTH},}|~{${MIN_FENCE_LENGTH},})(.*)$`)
const CLOSING_FENCE = new RegExp(`^ {0,${MAX_FENCE_INDENT}}(\`{${MIN_FENCE_LENGTH},}|~{${MIN_FENCE_LENGTH},})[ \\t]*$`)
const PATH_ATTRIBUTE = /(?:^|\s)path=(?:"([^"]*)"|'([^']*)'|(\S*))/

/**
 * The fenced code blocks of `markdown` whose info string has `path=…`, in document order. Fences
 * follow CommonMark: up to three spaces of indentation, a backtick fence's info string holds no
 * backtick, and a block left open at the end of the text is dropped (its content may be cut short).
 */
export function parseFencedBlocks (markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = []
  let open: { fence: string, info: string, line: number, contentStart: number } | undefined
  let lineStart = 0
  let lineNumber = 0
  while (lineStart < markdown.length) {
    const newline = markdown.indexOf('\n', lineStart)
    const lineEnd = newline === -1 ? markdown.length : newline
    const next = newline === -1 ? markdown.length : newline + 1
    const text = markdown.slice(lineStart, lineEnd).replace(/\r$/, '')
    lineNumber++
    if (open === undefined) {
      const match = OPENING_FENCE.exec(text)
      const fence = match?.[1]
      const info = match?.[2]
      if (fence !== undefined && info !== undefined && !(fence.startsWith('`') && info.includes('`'))) {
        open = { fence, info: info.trim(), line: lineNumber, contentStart: next }
      }
    } else {
      const closing = CLOSING_FENCE.exec(text)?.[1]
      if (closing !== undefined && closing[0] === open.fence[0] && closing.length >= open.fence.length) {
        const blockPath = pathOf(open.info)
        if (blockPath !== undefined) {
          blocks.push({ path: blockPath, content: markdown.slice(open.contentStart, lineStart), info: open.info, line: open.line })
        }
        open = undefined
      }
    }
    lineStart = next
  }
  return blocks
}

/**
 * Writes every path block of `markdown` into `worktree`, creating folders; when several blocks
 * name the same file the last one wins. Every path is checked before anything is written: an
 * absolute path, a `..` component, a path into `.git` (any case), an empty path, a path through
 * a symbolic link or onto something that is not a regular file throws `UnsafeBlockPathError`.
 * Returns the files written, normalized (`./a//b` → `a/b`), in order of first appearance.
 */
export async function applyFencedBlocks (markdown: string, worktree: string): Promise<{ written: string[] }> {
  return await writeBlocks(parseFencedBlocks(markdown), worktree)
}

export interface GeneratorIo {
  env: NodeJS.ProcessEnv
  cwd: string
  stdout: (line: string) => void
  stderr: (line: string) => void
}

/**
 * `gitmesh generate-blocks`: applies the prompt file named by `GITMESH_PROMPT_FILE` to the current
 * folder and prints `wrote <path>` per file. Returns the exit code: 0 when files were written, 2
 * when the variable is missing or the prompt has no path blocks, 1 when reading or writing failed.
 */
export async function main (io: Partial<GeneratorIo> = {}): Promise<number> {
  const env = io.env ?? process.env
  const cwd = io.cwd ?? process.cwd()
  const stdout = io.stdout ?? ((line: string) => { process.stdout.write(`${line}\n`) })
  const stderr = io.stderr ?? ((line: string) => { process.stderr.write(`${line}\n`) })

  const promptFile = env[PROMPT_FILE_ENV]
  if (promptFile === undefined || promptFile === '') {
    stderr(`gitmesh generate-blocks: ${PROMPT_FILE_ENV} is not set; it must name the prompt file (the builder sets it)`)
    return EXIT_NOTHING_TO_DO
  }
  let markdown: string
  try {
    markdown = await readPrompt(path.resolve(cwd, promptFile))
  } catch (err) {
    stderr(`gitmesh generate-blocks: cannot read the prompt file ${promptFile}: ${(err as Error).message}`)
    return EXIT_FAILED
  }
  const blocks = parseFencedBlocks(markdown)
  if (blocks.length === 0) {
    stderr(`gitmesh generate-blocks: the prompt in ${promptFile} has no fenced code block naming a path; ` +
      'write one as ```ts path=src/file.ts … ``` for each file to create or replace')
    return EXIT_NOTHING_TO_DO
  }
  try {
    const { written } = await writeBlocks(blocks, cwd)
    for (const file of written) stdout(`wrote ${file}`)
    return 0
  } catch (err) {
    stderr(`gitmesh generate-blocks: ${(err as Error).message}`)
    return EXIT_FAILED
  }
}

/** The `path=` attribute of an info string, unquoted; undefined when there is none. */
function pathOf (info: string): string | undefined {
  const match = PATH_ATTRIBUTE.exec(info)
  if (match === null) return undefined
  return match[1] ?? match[2] ?? match[3] ?? ''
}

async function readPrompt (file: string): Promise<string> {
  const { size } = await stat(file)
  if (size > MAX_PROMPT_FILE_BYTES) throw new Error(`it has ${size} bytes, more than the ${MAX_PROMPT_FILE_BYTES} allowed`)
  return await readFile(file, 'utf8')
}

async function writeBlocks (blocks: FencedBlock[], worktree: string): Promise<{ written: string[] }> {
  if (!(await stat(worktree)).isDirectory()) throw new Error(`${worktree} is not a directory`)
  // A Map keeps a key where it was first set: the order of first appearance, the last block's content.
  const files = new Map<string, FencedBlock>()
  for (const block of blocks) files.set(normalizeBlockPath(block), block)
  for (const [relative, block] of files) {
    checkNotAFolderOfAnother(relative, block, files)
    await checkTarget(worktree, relative, block)
  }
  for (const [relative, block] of files) {
    const target = path.join(worktree, ...relative.split('/'))
    await mkdir(path.dirname(target), { recursive: true })
    await writeFile(target, block.content, 'utf8')
  }
  return { written: [...files.keys()] }
}

/**
 * The block's path as `a/b/c`, or `UnsafeBlockPathError`. `.` and empty components (`./a`, `a//b`)
 * are dropped; every other component must pass the same check as a received tree entry.
 */
function normalizeBlockPath (block: FencedBlock): string {
  const raw = block.path
  const refuse = (reason: string): never => { throw new UnsafeBlockPathError(raw, reason, block.line) }
  if (raw.trim() === '') refuse('empty path')
  if (raw.startsWith('/') || path.isAbsolute(raw) || /^[A-Za-z]:/.test(raw)) refuse('absolute path')
  if (raw.includes('\\')) refuse('contains a backslash (a separator on Windows, so its meaning would differ by platform)')
  if (raw.endsWith('/')) refuse('names a folder, not a file')
  const parts = raw.split('/').filter(part => part !== '' && part !== '.')
  if (parts.length === 0) refuse('empty path')
  for (const part of parts) {
    try {
      checkEntryName(part)
    } catch (err) {
      if (err instanceof UnsafePathError) refuse(`component ${JSON.stringify(part)}: ${err.reason}`)
      throw err
    }
  }
  return parts.join('/')
}

function checkNotAFolderOfAnother (relative: string, block: FencedBlock, files: Map<string, unknown>): void {
  const parts = relative.split('/')
  for (let i = 1; i < parts.length; i++) {
    const folder = parts.slice(0, i).join('/')
    if (files.has(folder)) throw new UnsafeBlockPathError(block.path, `${folder} is written as a file by another block`, block.line)
  }
}

/** Refuses a target reached through a symbolic link, under a file, or that exists as anything but a regular file. */
async function checkTarget (worktree: string, relative: string, block: FencedBlock): Promise<void> {
  const parts = relative.split('/')
  let current = worktree
  for (let i = 0; i < parts.length; i++) {
    current = path.join(current, parts[i] ?? '')
    const info = await lstatOrUndefined(current)
    if (info === undefined) return // nothing below a missing folder exists either
    const shown = parts.slice(0, i + 1).join('/')
    if (info.isSymbolicLink()) throw new UnsafeBlockPathError(block.path, `${shown} is a symbolic link`, block.line)
    const last = i === parts.length - 1
    if (!last && !info.isDirectory()) throw new UnsafeBlockPathError(block.path, `${shown} is a file, not a folder`, block.line)
    if (last && !info.isFile()) throw new UnsafeBlockPathError(block.path, `${shown} exists and is not a regular file`, block.line)
  }
}

async function lstatOrUndefined (file: string): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  try {
    return await lstat(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
