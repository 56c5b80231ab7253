import { GIT_REDIRECT_ENV_KEYS, PASSED_ENV_KEYS } from './constants.js'

/**
 * The environment a command that gitmesh does not trust gets (a generator, the tests of code a
 * builder wrote): only `PASSED_ENV_KEYS` from the daemon's own environment (when set) plus
 * `extra`, so tokens and keys in the daemon's environment never reach it.
 */
export function scrubbedEnv (extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const key of PASSED_ENV_KEYS) {
    const value = process.env[key]
    if (value !== undefined) env[key] = value
  }
  return { ...env, ...extra }
}

/**
 * Environment for every git child: no pager, no prompts, no locale surprises, and the caller's
 * GIT_DIR/GIT_INDEX_FILE variables removed so they cannot redirect us to another repository.
 */
export function gitEnv (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of GIT_REDIRECT_ENV_KEYS) delete env[key]
  return { ...env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat', LC_ALL: 'C', ...extra }
}

/** The user's own command on their own machine (the namer of their config): their environment, as their shell has it. */
export function ownEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...extra }
}
