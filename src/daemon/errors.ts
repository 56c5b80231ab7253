export class DaemonNotRunningError extends Error {
  override readonly name = 'DaemonNotRunningError'
  constructor (readonly home: string) {
    super(`no gitmesh daemon is running for ${home}: start one with \`gitmesh daemon --home ${home}\``)
  }
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
