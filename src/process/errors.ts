/** Errors of running child processes, named by `.name` so callers and tests can tell them apart. */

/** The working directory given for a command does not exist, is not a folder, or cannot be entered. */
export class CommandCwdError extends Error {
  override readonly name = 'CommandCwdError'
  constructor (readonly cwd: string, readonly reason: string) {
    super(`cannot run a command in ${cwd}: ${reason}`)
  }
}

/** The shell could not be started at all (missing /bin/sh, no processes left); a failing command is not this. */
export class CommandSpawnError extends Error {
  override readonly name = 'CommandSpawnError'
  constructor (readonly command: string, cause: unknown) {
    super(`cannot start ${JSON.stringify(command)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}
