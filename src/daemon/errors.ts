export class DaemonNotRunningError extends Error {
  override readonly name = 'DaemonNotRunningError'
  constructor (readonly home: string) {
    super(`no gitmesh daemon is running for ${home}: start one with \`gitmesh daemon --home ${home}\``)
  }
}

/** The daemon went away (it stopped or restarted) before it answered a call. */
export class DaemonGoneError extends Error {
  override readonly name = 'DaemonGoneError'
  constructor (readonly home: string) {
    super(`the gitmesh daemon for ${home} stopped before it answered`)
  }
}

/** True for the errors that mean "no daemon to talk to right now": a caller may wait for one. */
export function isDaemonAway (err: unknown): boolean {
  const name = (err as { name?: string })?.name
  return name === 'DaemonNotRunningError' || name === 'DaemonGoneError'
}

export class DaemonAlreadyRunningError extends Error {
  override readonly name = 'DaemonAlreadyRunningError'
  constructor (readonly home: string) {
    super(`a gitmesh daemon is already running for ${home}`)
  }
}

/** A control request with missing or wrong parameters. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError'
}

/** An error that crossed the control socket, keeping the daemon-side name for exit codes and tests. */
export class RemoteError extends Error {
  constructor (override readonly name: string, message: string, readonly code?: string) {
    super(message)
  }
}
