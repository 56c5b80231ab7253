import { describeIssue, promptText, TaskOptionsSchema, type TaskOptions } from '../jobs/task-options.js'
import { UsageError } from './output.js'

/**
 * `gitmesh offer`'s task flags as commander parsed them: syntax only (a number is a number,
 * repeatable flags are lists). Their rules — ranges, globs, name format, list sizes — are the
 * task options' own (src/jobs/task-options.ts), the same the control API and prompt files apply.
 */
export interface OfferFlags {
  name?: string
  attempts?: number
  test?: string
  after?: string[]
  owns?: string[]
  priority?: number
  fanout?: number
  builder?: string[]
  stack?: boolean
  fanoutStopFirst?: boolean
}

/** The flag a task option is given with, so a refusal names what the user typed. */
export const FLAG_OF_OPTION: Readonly<Record<keyof TaskOptions, string>> = {
  name: '--name',
  attempts: '--attempts',
  test: '--test',
  after: '--after',
  owns: '--owns',
  priority: '--priority',
  fanout: '--fanout',
  builders: '--builder',
  stack: '--stack',
  fanoutStop: '--fanout-stop-first'
}

/** The task options the flags give, checked; a UsageError (exit 2) names the flag and the rule. */
export function offerFlagOptions (flags: OfferFlags): TaskOptions {
  const result = TaskOptionsSchema.safeParse({
    name: flags.name,
    attempts: flags.attempts,
    test: flags.test,
    after: flags.after,
    owns: flags.owns,
    priority: flags.priority,
    fanout: flags.fanout,
    builders: flags.builder,
    stack: flags.stack,
    fanoutStop: flags.fanoutStopFirst === true ? 'first-pass' : undefined
  })
  if (!result.success) throw new UsageError(describeIssue(result.error, field => FLAG_OF_OPTION[field as keyof TaskOptions] ?? field))
  return result.data
}

/** The prompt of `-m TEXT` or `-f FILE`, checked as the daemon checks it. */
export function offerPrompt (text: string | undefined, file: string | undefined): string {
  const result = promptText.safeParse(text)
  if (!result.success) throw new UsageError(`${file === undefined ? '-m' : `-f ${file}`}: the prompt ${result.error.issues[0]?.message ?? 'is not valid'}`)
  return result.data
}
