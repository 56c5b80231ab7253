import picomatch from 'picomatch'
import { z } from 'zod'
import {
  DEFAULT_FANOUT, DEFAULT_PRIORITY, MAX_AFTER, MAX_ATTEMPTS, MAX_BUILDER_CHARS, MAX_BUILDERS, MAX_FANOUT, MAX_NAME_CHARS,
  MAX_OWNS_GLOB_CHARS, MAX_OWNS_GLOBS, MAX_PRIORITY, MAX_PROMPT_CHARS, MAX_TEST_COMMAND_CHARS, MIN_PRIORITY
} from './constants.js'
import { FANOUT_STOPS } from './job.js'

/**
 * The one schema of the options a job is offered with. The three public edges — `gitmesh offer`
 * flags, the control API's `offer` and `submit-task`, and a prompt file's front matter — run their
 * input through these same rules, so a value is refused (or taken) alike wherever it is written,
 * and the inner layers (Author, JobStore) take the typed result without checking it again.
 * Messages say what is wrong with the value and leave out the field: each edge names the field
 * as its user wrote it (`--owns`, `owns:`, `owns`).
 */

/** A value as it appears in a message: JSON, cut short. */
export function show (value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}…` : text
}

const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/
const NAME_RULE = `use kebab-case (a-z, 0-9 and single hyphens), at most ${MAX_NAME_CHARS} characters`

/** A job's name (also the names in `after`). */
export const jobName = z.string({ error: issue => `${show(issue.input)} is not a job name: ${NAME_RULE}` })
  .superRefine((value, ctx) => {
    if (value.length > MAX_NAME_CHARS || !KEBAB.test(value)) ctx.addIssue({ code: 'custom', message: `${show(value)} is not a job name: ${NAME_RULE}` })
  })

/** Why `glob` cannot be an ownership glob, or undefined when it can. */
function globProblem (glob: string): string | undefined {
  if (glob.trim() === '') return 'is empty'
  if (glob.length > MAX_OWNS_GLOB_CHARS) return `is longer than ${MAX_OWNS_GLOB_CHARS} characters`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(glob)) return 'contains a control character'
  // Globs are OR-ed: one negated glob would let the job change nearly everything.
  if (glob.startsWith('!')) return 'is negated: list the paths the job may change instead'
  if (/^(?:[/\\~]|[A-Za-z]:)/.test(glob)) return 'is an absolute path: write it relative to the repository root'
  // Brace alternatives count as segments too: "{src,..}/x" climbs out as surely as "../x".
  if (glob.split(/[/\\{},]/).includes('..')) return 'has a ".." segment: it must stay inside the repository'
  try {
    // strictBrackets: an unclosed "[" is an error, not a literal that silently matches nothing.
    picomatch.makeRe(glob, { strictBrackets: true })
  } catch (err) {
    return `is not a valid glob (${(err as Error).message})`
  }
  return undefined
}

/** One `owns` glob: relative to the repository's top, staying inside it, not negated. */
export const ownsGlob = z.string({ error: issue => `${show(issue.input)} is not a glob such as "src/email/**"` })
  .superRefine((value, ctx) => {
    const problem = globProblem(value)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${show(value)} ${problem}` })
  })

const BUILDER_RULE = `a peer id or tag is 1 to ${MAX_BUILDER_CHARS} characters without spaces`
/** One entry of `builders`: a peer id or a tag. */
export const builderRef = z.string({ error: issue => `${show(issue.input)} is not a peer id or tag: ${BUILDER_RULE}` })
  .superRefine((value, ctx) => {
    if (value.length > MAX_BUILDER_CHARS || !/^[^\s\u0000-\u001f]+$/.test(value)) { // eslint-disable-line no-control-regex
      ctx.addIssue({ code: 'custom', message: `${show(value)} is not a peer id or tag: ${BUILDER_RULE}` })
    }
  })

function wholeNumber (min: number, max: number): z.ZodInt {
  const error = `must be a whole number between ${min} and ${max}`
  return z.int({ error }).min(min, { error }).max(max, { error })
}

/** One value or a list of them, read as a list without repeats; absent is empty. */
function oneOrMany (item: z.ZodType<string>, max: number, what: string) {
  return z.preprocess(
    value => Array.isArray(value) ? value : [value],
    z.array(item).max(max, { error: `lists at most ${max} ${what}` })
  ).transform(list => [...new Set(list)]).default([])
}

/** The prompt: trimmed, not empty, not longer than MAX_PROMPT_CHARS. */
export const promptText = z.string({ error: 'must be text' }).transform(text => text.trim()).pipe(z.string()
  .min(1, { error: 'is empty' })
  .max(MAX_PROMPT_CHARS, { error: `is longer than ${MAX_PROMPT_CHARS} characters` }))

/** Each option with its rule and default. Every edge takes its subset of these, under its own spelling. */
export const taskOptionFields = {
  /** The job's name; derived from the prompt when absent. */
  name: jobName.optional(),
  /** Attempt budget; gitmesh.json's (or the default) when absent. */
  attempts: wholeNumber(1, MAX_ATTEMPTS).optional(),
  /** Test command; gitmesh.json's when absent. */
  test: z.string({ error: 'must be a command' })
    .min(1, { error: 'is empty' })
    .max(MAX_TEST_COMMAND_CHARS, { error: `is longer than ${MAX_TEST_COMMAND_CHARS} characters` }).optional(),
  priority: wholeNumber(MIN_PRIORITY, MAX_PRIORITY).default(DEFAULT_PRIORITY),
  /** Names of the jobs that must be accepted before this one runs. */
  after: oneOrMany(jobName, MAX_AFTER, 'names'),
  /** Path globs the job may change; any path when empty. */
  owns: oneOrMany(ownsGlob, MAX_OWNS_GLOBS, 'globs'),
  /** How many different builders get the job. */
  fanout: wholeNumber(1, MAX_FANOUT).default(DEFAULT_FANOUT),
  /** Peer ids or tags of the builders that may take the job; any when empty. */
  builders: oneOrMany(builderRef, MAX_BUILDERS, 'peer ids or tags'),
  /** Start on the (one) `after` job's passing result instead of waiting for it to be accepted. */
  stack: z.boolean({ error: issue => `${show(issue.input)} is not true or false` }).default(false),
  /** Fan-out: `first-pass` stops the other builders at the first passing result; `none` lets all finish. */
  fanoutStop: z.enum(FANOUT_STOPS, { error: issue => `${show(issue.input)} is not one of ${FANOUT_STOPS.join(', ')}` }).default('none')
}

/**
 * The one rule across fields: a round builds on one commit, so it can stack on one result, not
 * on several at once. The issue is put on `stack`, where an edge reports it.
 */
export function checkStack (options: { stack: boolean, after: readonly string[] }, ctx: z.RefinementCtx, stackKey = 'stack'): void {
  if (options.stack && options.after.length !== 1) {
    ctx.addIssue({ code: 'custom', path: [stackKey], message: `needs exactly one after job to stack on (${options.after.length} given)` })
  }
}

/** Builds the schema of an edge from its fields, with the stack rule; every edge's is made this way. */
export function taskOptionsObject<Shape extends z.ZodRawShape> (shape: Shape) {
  return z.object(shape).superRefine((value, ctx) => { checkStack(value as unknown as TaskOptions, ctx) })
}

/** The task options alone, as a CLI gathers them from flags. */
export const TaskOptionsSchema = z.object(taskOptionFields).superRefine(checkStack)

/** Checked task options: defaults filled in, lists without repeats. */
export type TaskOptions = z.output<typeof TaskOptionsSchema>

/** The first problem of a failed parse as `<field>: <reason>`, the field spelled by `label`. */
export function describeIssue (error: z.ZodError, label: (field: string) => string = field => field): string {
  const issue = error.issues[0]
  if (issue === undefined) return 'not valid'
  if (issue.code === 'unrecognized_keys') return `${issue.keys.map(label).join(', ')}: unknown option`
  const field = issue.path[0]
  return field === undefined ? issue.message : `${label(String(field))}: ${issue.message}`
}
