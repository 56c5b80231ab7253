import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import ms from 'ms'
import { z } from 'zod'
import { DEFAULT_ATTEMPTS, DEFAULT_GENERATE_TIMEOUT_MS, DEFAULT_TEST_TIMEOUT_MS, MAX_ATTEMPTS, MAX_COMMAND_TIMEOUT_MS, MAX_PROJECT_CONFIG_BYTES, MAX_SETUP_KEY_FILES, MAX_TEST_COMMAND_CHARS, PROJECT_CONFIG_FILE } from './constants.js'
import { setupKeyPathProblem } from './setup-key.js'
import { InvalidProjectConfigError } from './errors.js'

const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const millis = typeof value === 'number' ? value : ms(value as ms.StringValue)
  if (typeof millis !== 'number' || !Number.isFinite(millis) || millis <= 0 || millis > MAX_COMMAND_TIMEOUT_MS) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a duration such as "90s", "10m" or "1h" (at most ${MAX_COMMAND_TIMEOUT_MS / 3_600_000} h)` })
    return z.NEVER
  }
  return millis
})

const setupKeyPath = z.string().superRefine((file, ctx) => {
  const problem = setupKeyPathProblem(file)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(file.slice(0, 80))} ${problem}` })
})

/** A repository's gitmesh.json: committed, so it travels inside every snapshot. */
export const ProjectConfigSchema = z.strictObject({
  test: z.string().min(1, 'must be a command such as "npm test"').max(MAX_TEST_COMMAND_CHARS),
  attempts: z.number().int().min(1).max(MAX_ATTEMPTS).optional(),
  setup: z.string().min(1, 'must be a command such as "npm ci"').max(MAX_TEST_COMMAND_CHARS).optional(),
  setupKey: z.array(setupKeyPath).min(1, 'must name at least one file, such as ["package-lock.json"]').max(MAX_SETUP_KEY_FILES).optional(),
  timeouts: z.strictObject({ generate: duration.optional(), test: duration.optional(), setup: duration.optional(), idle: duration.optional() }).optional()
}).refine(config => config.setupKey === undefined || config.setup !== undefined, { message: 'setupKey names the files whose hash keys the setup cache: it needs a setup command, such as "npm ci"', path: ['setupKey'] })

/** The setup step of a job (docs/generators.md, "Setup"): run once before the first attempt, cached by `key`. */
export interface JobSetup {
  command: string
  /** Repository-relative files whose contents key the builder's setup cache; empty: no cache. */
  key: string[]
}

/** The timeouts gitmesh.json sets itself; a builder's own defaults fill in the rest. */
export interface ProjectTimeouts {
  generate?: number
  setup?: number
  idle?: number
}

export interface JobSettings {
  test: string
  attempts: number
  /** gitmesh.json's, else DEFAULT_GENERATE_TIMEOUT_MS (what a builder without `--generate-timeout` uses). */
  generateTimeoutMs: number
  testTimeoutMs: number
  setup?: JobSetup
  /** Only what gitmesh.json says; absent when it says none of them. */
  projectTimeouts?: ProjectTimeouts
}

export interface SettingOverrides {
  test?: string
  attempts?: number
}

/**
 * The job settings for a repository: its gitmesh.json with command-line overrides on top. A
 * missing file is an error unless `--test` gives the test command; a broken one always is.
 */
export async function loadJobSettings (repoDir: string, overrides: SettingOverrides = {}): Promise<JobSettings> {
  const file = path.join(repoDir, PROJECT_CONFIG_FILE)
  let text: string | undefined
  try {
    const info = await stat(file)
    if (info.size > MAX_PROJECT_CONFIG_BYTES) throw new InvalidProjectConfigError(file, `larger than ${MAX_PROJECT_CONFIG_BYTES} bytes`)
    text = await readFile(file, 'utf8')
  } catch (err) {
    if (err instanceof InvalidProjectConfigError) throw err
    // Only a missing file is "no config"; one that exists but cannot be read is an error.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new InvalidProjectConfigError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  let config: z.infer<typeof ProjectConfigSchema> | undefined
  if (text !== undefined) {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (err) {
      throw new InvalidProjectConfigError(file, `not valid JSON (${(err as Error).message})`)
    }
    const result = ProjectConfigSchema.safeParse(value)
    if (!result.success) {
      const issue = result.error.issues[0]
      throw new InvalidProjectConfigError(file, `${issue?.path.join('.') || 'config'}: ${issue?.message ?? 'invalid'}`)
    }
    config = result.data
  }
  const test = overrides.test ?? config?.test
  if (test === undefined) {
    throw new InvalidProjectConfigError(file, `missing: add one such as {"test": "npm test", "attempts": 3} (committed, so builders see it), or pass --test`)
  }
  const attempts = overrides.attempts ?? config?.attempts ?? DEFAULT_ATTEMPTS
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) {
    throw new InvalidProjectConfigError(file, `attempts must be between 1 and ${MAX_ATTEMPTS}`)
  }
  return {
    test,
    attempts,
    generateTimeoutMs: config?.timeouts?.generate ?? DEFAULT_GENERATE_TIMEOUT_MS,
    testTimeoutMs: config?.timeouts?.test ?? DEFAULT_TEST_TIMEOUT_MS,
    ...(config?.setup === undefined ? {} : { setup: { command: config.setup, key: config.setupKey ?? [] } }),
    ...projectTimeouts(config?.timeouts)
  }
}

function projectTimeouts (timeouts: { generate?: number, setup?: number, idle?: number } | undefined): { projectTimeouts?: ProjectTimeouts } {
  const picked: ProjectTimeouts = {}
  if (timeouts?.generate !== undefined) picked.generate = timeouts.generate
  if (timeouts?.setup !== undefined) picked.setup = timeouts.setup
  if (timeouts?.idle !== undefined) picked.idle = timeouts.idle
  return Object.keys(picked).length === 0 ? {} : { projectTimeouts: picked }
}
