import { createHash } from 'node:crypto'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml'
import { z } from 'zod'
import { PromptFileError } from './errors.js'
import { checkStack, promptText, taskOptionFields } from '../jobs/task-options.js'

/**
 * The YAML front matter of a prompt file: the jobs' own task options (src/jobs/task-options.ts),
 * so a valid file is a valid offer. Every key is optional; an unknown key is an error.
 */
export const FrontMatterSchema = z.strictObject({
  name: taskOptionFields.name,
  after: taskOptionFields.after,
  owns: taskOptionFields.owns,
  priority: taskOptionFields.priority,
  fanout: taskOptionFields.fanout,
  attempts: taskOptionFields.attempts,
  builders: taskOptionFields.builders,
  stack: taskOptionFields.stack,
  // YAML keys are snake_case, as in most front matter; the control API's is fanoutStop.
  fanout_stop: taskOptionFields.fanoutStop
}).superRefine(checkStack)

export type FrontMatter = z.output<typeof FrontMatterSchema>

/** One task: a prompt file read and checked. */
export type PromptFile = FrontMatter & {
  /** The file as the caller named it. */
  file: string
  /** The Markdown after the front matter, trimmed. Never empty. */
  prompt: string
  /** sha256 (hex) of the whole file text: equal digests mean an unchanged file. */
  digest: string
}

const FRONT_MATTER_KEYS = ['name', 'after', 'owns', 'priority', 'fanout', 'attempts', 'builders', 'stack', 'fanout_stop']

/** A fence line of the front matter: `---`, trailing blanks allowed. */
const FENCE = /^---[ \t]*$/

/** sha256 (hex) of a prompt file's text, as `PromptFile.digest`. */
export function promptDigest (text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

/**
 * Reads a prompt file: Markdown with optional YAML front matter between a first line `---` and the
 * next `---` line. Throws PromptFileError naming the file and line of the first problem.
 *
 * @example
 * ```ts
 * const task = parsePromptFile('---\nname: email\npriority: 5\n---\nValidate email addresses.\n', 'prompts/email.md')
 * // { file: 'prompts/email.md', name: 'email', priority: 5, fanout: 1, after: [], owns: [], builders: [], stack: false, fanout_stop: 'none', prompt: 'Validate email addresses.', digest: '…' }
 * ```
 */
export function parsePromptFile (text: string, file: string): PromptFile {
  const digest = promptDigest(text)
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  let frontMatter: FrontMatter = FrontMatterSchema.parse({})
  let bodyIndex = 0
  if (FENCE.test(lines[0] ?? '')) {
    const close = lines.findIndex((line, index) => index > 0 && FENCE.test(line))
    if (close === -1) throw new PromptFileError(file, 1, 'the front matter has no closing "---" line')
    frontMatter = readFrontMatter(lines.slice(1, close).join('\n'), file)
    bodyIndex = close + 1
  }
  const body = promptText.safeParse(lines.slice(bodyIndex).join('\n'))
  if (!body.success) {
    const reason = `the prompt ${body.error.issues[0]?.message ?? 'is not valid'}`
    const hint = bodyIndex > 0 && body.error.issues[0]?.code === 'too_small' ? ': write it below the front matter' : ''
    throw new PromptFileError(file, Math.min(bodyIndex + 1, lines.length), reason + hint)
  }
  return { file, ...frontMatter, prompt: body.data, digest }
}

/** The front matter starts on the file's second line, after the opening `---`. */
const FRONT_MATTER_LINE_OFFSET = 1

function readFrontMatter (source: string, file: string): FrontMatter {
  const lineCounter = new LineCounter()
  const doc = parseDocument(source, { lineCounter, prettyErrors: true, uniqueKeys: true })
  const problem = doc.errors[0] ?? doc.warnings[0]
  if (problem !== undefined) {
    // prettyErrors appends "at line L, column C:" and an excerpt; the line goes in front instead.
    const reason = problem.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '')
    throw new PromptFileError(file, (problem.linePos?.[0].line ?? 1) + FRONT_MATTER_LINE_OFFSET, `front matter is not valid YAML: ${reason}`)
  }
  const lineAt = (offset: number | undefined): number => offset === undefined ? 1 + FRONT_MATTER_LINE_OFFSET : lineCounter.linePos(offset).line + FRONT_MATTER_LINE_OFFSET
  // Aliases have no use in front matter, and refusing them refuses alias bombs too.
  let alias: Node | undefined
  visit(doc, { Alias (_key, node) { alias = node; return visit.BREAK } })
  if (alias !== undefined) throw new PromptFileError(file, lineAt(alias.range?.[0]), 'front matter: YAML aliases (*name) are not supported')

  const result = FrontMatterSchema.safeParse(doc.contents === null ? {} : doc.toJS())
  if (result.success) return result.data
  const problems = result.error.issues.flatMap(issue => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map(key => ({ line: lineAt(offsetOf(doc, [key])), reason: `${key}: unknown key (known keys: ${FRONT_MATTER_KEYS.join(', ')})` }))
    }
    const key = issue.path[0]
    if (key === undefined) return [{ line: lineAt(doc.contents?.range[0]), reason: 'front matter must be keys and values such as "priority: 5", one a line' }]
    return [{ line: lineAt(offsetOf(doc, issue.path)), reason: `${String(key)}: ${issue.message}` }]
  })
  // Report the problem nearest the top, as a reader meets them.
  const first = problems.reduce((best, next) => next.line < best.line ? next : best)
  throw new PromptFileError(file, first.line, first.reason)
}

/**
 * Where the value at `path` is written: the offset of its key in a mapping, or of its item in a
 * list; as deep as the document goes (a single value read as a list stays at its key).
 */
function offsetOf (doc: Document.Parsed, path: ReadonlyArray<PropertyKey>): number | undefined {
  let node: unknown = doc.contents
  let offset: number | undefined
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find(item => String(isScalar(item.key) ? item.key.value : item.key) === String(segment))
      if (pair === undefined) break
      offset = (pair.key as Node | null)?.range?.[0] ?? offset
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined
      if (item === undefined) break
      offset = item.range?.[0] ?? offset
      node = item
    } else {
      break
    }
  }
  return offset
}
