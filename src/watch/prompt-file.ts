import { createHash } from 'node:crypto'
import picomatch from 'picomatch'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml'
import { z } from 'zod'
import {
  DEFAULT_FANOUT, DEFAULT_PRIORITY, MAX_ATTEMPTS, MAX_BUILDER_CHARS, MAX_FANOUT, MAX_GLOB_CHARS, MAX_LIST_ENTRIES,
  MAX_NAME_CHARS, MAX_PRIORITY, MAX_PROMPT_CHARS, MIN_PRIORITY
} from './constants.js'
import { PromptFileError } from './errors.js'
import { FANOUT_STOPS } from '../jobs/job.js'

/** A value as it appears in a message: JSON, cut short. */
function show (value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}…` : text
}

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/
const NAME_RULE = `use kebab-case (a-z, 0-9 and single hyphens), at most ${MAX_NAME_CHARS} characters`

const jobName = z.string({ error: issue => `${show(issue.input)} is not a job name: ${NAME_RULE}` })
  .superRefine((value, ctx) => {
    if (value.length > MAX_NAME_CHARS || !KEBAB.test(value)) ctx.addIssue({ code: 'custom', message: `${show(value)} is not a job name: ${NAME_RULE}` })
  })

/** Why `glob` cannot be an ownership glob, or undefined when it can. */
function globProblem (glob: string): string | undefined {
  if (glob.trim() === '') return 'is empty'
  if (glob.length > MAX_GLOB_CHARS) return `is longer than ${MAX_GLOB_CHARS} characters`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(glob)) return 'contains a control character'
  // Globs are OR-ed: one negated glob would let the job change nearly everything.
  if (glob.startsWith('!')) return 'is negated: list the paths the job may change instead'
  if (/^(?:[/\\~]|[A-Za-z]:)/.test(glob)) return 'is an absolute path: write it relative to the repository root'
  // Brace alternatives count as segments too: "{src,..}/x" climbs out as surely as "../x".
  if (glob.split(/[/\\{},]/).includes('..')) return 'has a ".." segment: it must stay inside the repository'
  try {
    picomatch.makeRe(glob, { strictBrackets: true })
  } catch (err) {
    return `is not a valid glob (${(err as Error).message})`
  }
  return undefined
}

const glob = z.string({ error: issue => `${show(issue.input)} is not a glob such as "src/email/**"` })
  .superRefine((value, ctx) => {
    const problem = globProblem(value)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${show(value)} ${problem}` })
  })

const BUILDER_RULE = `a peer id or tag is 1 to ${MAX_BUILDER_CHARS} characters without spaces`
const builder = z.string({ error: issue => `${show(issue.input)} is not a peer id or tag: ${BUILDER_RULE}` })
  .superRefine((value, ctx) => {
    if (value.length > MAX_BUILDER_CHARS || !/^[^\s\u0000-\u001f]+$/.test(value)) { // eslint-disable-line no-control-regex
      ctx.addIssue({ code: 'custom', message: `${show(value)} is not a peer id or tag: ${BUILDER_RULE}` })
    }
  })

function wholeNumber (min: number, max: number) {
  const error = `must be a whole number between ${min} and ${max}`
  return z.int({ error }).min(min, { error }).max(max, { error })
}

/** One value or a list of them, read as a list without repeats; absent is empty. */
function oneOrMany (item: z.ZodType<string>, what: string) {
  return z.preprocess(
    value => Array.isArray(value) ? value : [value],
    z.array(item).max(MAX_LIST_ENTRIES, { error: `lists at most ${MAX_LIST_ENTRIES} ${what}` })
  ).transform(list => [...new Set(list)]).default([])
}

/** The YAML front matter of a prompt file. Every key is optional; an unknown key is an error. */
export const FrontMatterSchema = z.strictObject({
  /** The job's name; derived from the prompt when absent. */
  name: jobName.optional(),
  /** Names of the jobs that must be accepted before this one is offered. */
  after: oneOrMany(jobName, 'names'),
  /** Path globs the job may change. */
  owns: oneOrMany(glob, 'globs'),
  priority: wholeNumber(MIN_PRIORITY, MAX_PRIORITY).default(DEFAULT_PRIORITY),
  /** How many different builders get the job. */
  fanout: wholeNumber(1, MAX_FANOUT).default(DEFAULT_FANOUT),
  /** Attempt budget; gitmesh.json's (or the default) when absent. */
  attempts: wholeNumber(1, MAX_ATTEMPTS).optional(),
  /** Peer ids or tags of the builders that may take the job; any when empty. */
  builders: oneOrMany(builder, 'peer ids or tags'),
  /** Start on the (one) `after:` job's passing result instead of waiting for it to be accepted. */
  stack: z.boolean({ error: issue => `${show(issue.input)} is not true or false` }).default(false),
  /** Fan-out: `first-pass` stops the other builders at the first passing result; `none` lets all finish. */
  fanout_stop: z.enum(FANOUT_STOPS, { error: issue => `${show(issue.input)} is not one of ${FANOUT_STOPS.join(', ')}` }).default('none')
})

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

const FRONT_MATTER_KEYS = Object.keys(FrontMatterSchema.shape)

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
  const prompt = lines.slice(bodyIndex).join('\n').trim()
  const bodyLine = Math.min(bodyIndex + 1, lines.length)
  if (prompt === '') throw new PromptFileError(file, bodyLine, bodyIndex === 0 ? 'the prompt is empty' : 'the prompt is empty: write it below the front matter')
  if (prompt.length > MAX_PROMPT_CHARS) throw new PromptFileError(file, bodyLine, `the prompt is longer than ${MAX_PROMPT_CHARS} characters`)
  return { file, ...frontMatter, prompt, digest }
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
