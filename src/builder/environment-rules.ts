import os from 'node:os'
import path from 'node:path'
import { ENV_NAME_PATTERN, RESERVED_ENV_PREFIX } from './constants.js'

/**
 * Why `name` cannot be passed to job commands (by `--pass-env`, `builder.passEnv` or the secrets
 * file), or undefined when it can. The same rule for every source, so a name refused in one is
 * refused in all.
 */
export function variableNameProblem (name: string): string | undefined {
  if (!ENV_NAME_PATTERN.test(name)) return `${JSON.stringify(name)} is not a variable name (letters, digits and _, not starting with a digit)`
  if (name.toUpperCase().startsWith(RESERVED_ENV_PREFIX)) return `${name}: ${RESERVED_ENV_PREFIX}* variables are set by the builder for each job and cannot be passed`
  if (name === 'PATH') return 'PATH is not passed this way: set the command PATH with --path or "builder": { "path": [...] }'
  return undefined
}

/** Why `dir` cannot be a folder of the command PATH, or undefined when it can. */
export function pathDirProblem (dir: string): string | undefined {
  if (dir === '') return 'an empty folder name (two colons in a row, or one at an end?)'
  if (dir.includes(':')) return `${JSON.stringify(dir)} contains ':', which separates PATH entries`
  if (dir.includes('\0')) return `${JSON.stringify(dir)} contains a NUL byte`
  if (!dir.startsWith('/') && dir !== '~' && !dir.startsWith('~/')) return `${JSON.stringify(dir)} is relative: give an absolute folder or one under ~/ (commands run in each job's worktree, where a relative folder means something else every time)`
  return undefined
}

/** `~` and `~/…` are the daemon user's home (`os.homedir()`), as a shell expands them; the folder is normalized. */
export function expandHome (dir: string, home = os.homedir()): string {
  if (dir === '~') return home
  if (dir.startsWith('~/')) return path.join(home, dir.slice(2))
  return path.normalize(dir)
}
