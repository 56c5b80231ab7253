import { z } from 'zod'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_LISTEN } from '../net/constants.js'
import { HOOK_EVENTS, MAX_HOOK_COMMAND_CHARS, MAX_HOOKS } from '../notify/constants.js'
import { MAX_PASSED_ENV_NAMES, MAX_PATH_DIRS } from '../builder/constants.js'
import { pathDirProblem, variableNameProblem } from '../builder/environment-rules.js'

/** A string that parses as a multiaddr. */
export const multiaddrText = z.string().refine(text => {
  try {
    multiaddr(text)
    return true
  } catch {
    return false
  }
}, 'not a valid multiaddr')

/** A string that `problem` has nothing to say about. */
const checked = (problem: (text: string) => string | undefined) => z.string().superRefine((text, ctx) => {
  const message = problem(text)
  if (message !== undefined) ctx.addIssue({ code: 'custom', message })
})

/** What a builder's job commands get from this node (src/builder/command-env.ts); `daemon --pass-env`/`--path` add to and override it. */
export const BuilderConfigSchema = z.strictObject({
  /** Variables of the daemon's environment passed to job commands. */
  passEnv: z.array(checked(variableNameProblem)).max(MAX_PASSED_ENV_NAMES).optional(),
  /** The job commands' PATH, in order: absolute folders or folders under `~/`. */
  path: z.array(checked(pathDirProblem)).min(1).max(MAX_PATH_DIRS).optional()
})
export type BuilderConfig = z.infer<typeof BuilderConfigSchema>

/** The node's config.json; docs/guide.md ("Config") describes every key. */
export const ConfigSchema = z.strictObject({
  /** Addresses to listen on when `daemon --listen` is not given. */
  listen: z.array(multiaddrText).default([DEFAULT_LISTEN]),
  /** Peers to dial at start, besides `daemon --peer`. */
  peers: z.array(multiaddrText).default([]),
  /** A command that names jobs: the prompt on stdin, a kebab-case name on stdout, within a second. */
  namer: z.string().min(1).optional(),
  /** Commands run when a job needs the user (docs/guide.md, "Knowing when to look"). */
  hooks: z.array(z.strictObject({
    on: z.array(z.enum(HOOK_EVENTS)).min(1).default([...HOOK_EVENTS]),
    run: z.string().min(1).max(MAX_HOOK_COMMAND_CHARS)
  })).max(MAX_HOOKS).default([]),
  /** Raise a desktop notification on the same events (`daemon --no-notify` turns it off too). */
  notify: z.boolean().default(true),
  /** Environment of job commands when the node runs as a builder. */
  builder: BuilderConfigSchema.optional()
})
export type Config = z.infer<typeof ConfigSchema>
