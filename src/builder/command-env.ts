import { statSync } from 'node:fs'
import { PASSED_ENV_KEYS } from '../process/constants.js'
import { MAX_PASSED_ENV_NAMES, MAX_PATH_DIRS, MIN_MASKED_SECRET_CHARS } from './constants.js'
import { expandHome, pathDirProblem, variableNameProblem } from './environment-rules.js'
import { InvalidCommandEnvironmentError } from './errors.js'
import { readSecretsFile } from './secrets-file.js'
import type { BuilderConfig } from '../home/config.js'
import { SecretMasker } from './secret-mask.js'

/** What a builder's job commands get besides the scrubbed base and their job's `GITMESH_*` variables. */
export interface CommandEnvironmentSettings {
  /** Names of the daemon's own variables to pass (`--pass-env`, `builder.passEnv`). */
  passEnv?: readonly string[]
  /** Folders of the command PATH, in order (`--path`, `builder.path`); unset keeps the daemon's PATH. */
  path?: readonly string[]
  /** Variables of the secrets file. */
  secrets?: ReadonlyMap<string, string>
  /** @default process.env */
  daemonEnv?: NodeJS.ProcessEnv
  /** What `~` means in `path`. @default os.homedir() */
  homeDir?: string
}

/** The environment every job command of a builder starts from, and the masker for what leaves the builder. */
export interface CommandEnvironment {
  /**
   * The scrubbed base (`PASSED_ENV_KEYS`), PATH replaced when configured, the passed variables
   * that are set, then the secrets. A job command gets this plus its job's `GITMESH_*` variables.
   */
  variables: Record<string, string>
  /** Hides the values of the passed variables and the secrets. */
  masker: SecretMasker
  /** Things the daemon's user should know at start (an unset `--pass-env` name, a value too short to mask); never a value. */
  warnings: string[]
}

/**
 * Builds the environment of a builder's job commands (generator, setup, test) from the settings.
 * Throws `InvalidCommandEnvironmentError` on a name or folder that cannot be used.
 *
 * @example
 * const environment = buildCommandEnvironment({ passEnv: ['ANTHROPIC_API_KEY'], path: ['~/.local/bin', '/usr/bin', '/bin'] })
 * await runCommand({ command, cwd, env: jobVariables, baseEnv: environment.variables, timeoutMs })
 */
export function buildCommandEnvironment (settings: CommandEnvironmentSettings = {}): CommandEnvironment {
  const daemonEnv = settings.daemonEnv ?? process.env
  const passEnv = [...new Set(settings.passEnv ?? [])]
  const secrets = settings.secrets ?? new Map<string, string>()
  if (passEnv.length > MAX_PASSED_ENV_NAMES) throw new InvalidCommandEnvironmentError(`at most ${MAX_PASSED_ENV_NAMES} variables can be passed (--pass-env and builder.passEnv together), not ${passEnv.length}`)
  if ((settings.path?.length ?? 0) > MAX_PATH_DIRS) throw new InvalidCommandEnvironmentError(`at most ${MAX_PATH_DIRS} folders in the command PATH, not ${settings.path?.length ?? 0}`)
  const warnings: string[] = []
  const variables: Record<string, string> = {}
  for (const key of PASSED_ENV_KEYS) {
    const value = daemonEnv[key]
    if (value !== undefined) variables[key] = value
  }
  if (settings.path !== undefined) {
    if (settings.path.length === 0) throw new InvalidCommandEnvironmentError('the command PATH needs at least one folder')
    const dirs = settings.path.map(dir => {
      const problem = pathDirProblem(dir)
      if (problem !== undefined) throw new InvalidCommandEnvironmentError(`command PATH: ${problem}`)
      return expandHome(dir, settings.homeDir)
    })
    for (const dir of dirs) if (!isDirectory(dir)) warnings.push(`command PATH: ${dir} is not a folder (yet)`)
    variables.PATH = dirs.join(':')
  }
  const masked: string[] = []
  for (const name of passEnv) {
    const problem = variableNameProblem(name)
    if (problem !== undefined) throw new InvalidCommandEnvironmentError(`--pass-env: ${problem}`)
    if (secrets.has(name)) throw new InvalidCommandEnvironmentError(`${name} is both passed from the daemon's environment and set in the secrets file: keep one`)
    const value = daemonEnv[name]
    if (value === undefined) {
      warnings.push(`--pass-env ${name}: not set in the daemon's environment, so job commands do not get it`)
      continue
    }
    variables[name] = value
    // HOME, LANG and the like pass anyway and are no secret: masking them would blank out paths.
    if (PASSED_ENV_KEYS.includes(name)) continue
    masked.push(value)
    if (value.length < MIN_MASKED_SECRET_CHARS && value !== '') warnings.push(`${name}'s value is shorter than ${MIN_MASKED_SECRET_CHARS} characters: it is passed but not masked in logs`)
  }
  for (const [name, value] of secrets) {
    const problem = variableNameProblem(name)
    if (problem !== undefined) throw new InvalidCommandEnvironmentError(`secrets file: ${problem}`)
    variables[name] = value
    masked.push(value)
    if (value.length < MIN_MASKED_SECRET_CHARS) warnings.push(`secret ${name}'s value is shorter than ${MIN_MASKED_SECRET_CHARS} characters: it is passed but not masked in logs`)
  }
  return { variables, masker: new SecretMasker(masked), warnings }
}

/**
 * A builder's environment as the daemon makes it at start (and `gitmesh doctor` shows it): the
 * config's `builder` section with the flags on top (`--pass-env` names add to `passEnv`, `--path`
 * replaces `path`), and the secrets file read now.
 */
export async function loadCommandEnvironment (secretsFile: string, options: { config?: BuilderConfig, passEnv?: readonly string[], path?: readonly string[], daemonEnv?: NodeJS.ProcessEnv, homeDir?: string } = {}): Promise<CommandEnvironment> {
  return buildCommandEnvironment({
    passEnv: [...(options.config?.passEnv ?? []), ...(options.passEnv ?? [])],
    path: options.path ?? options.config?.path,
    secrets: await readSecretsFile(secretsFile),
    daemonEnv: options.daemonEnv,
    homeDir: options.homeDir
  })
}

/** What a job command sees, for `gitmesh doctor`: the PATH and the names of the variables it gets. Never a value. */
export function describeCommandEnvironment (environment: CommandEnvironment): { path: string | null, variables: string[] } {
  return { path: environment.variables.PATH ?? null, variables: Object.keys(environment.variables).sort() }
}

function isDirectory (dir: string): boolean {
  try {
    return statSync(dir).isDirectory()
  } catch {
    return false
  }
}
