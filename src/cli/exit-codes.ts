/** Exit codes of the `gitmesh` command; docs/cli.md lists them for scripts. */
export const EXIT = {
  ok: 0,
  /** Something failed that has no more specific code. */
  failure: 1,
  /** The command line, a config file or a repository was not usable as given. */
  usage: 2,
  /** No daemon is running for the home, or the home was never initialized. */
  noDaemon: 3,
  /** The peer refused: the objects are not granted to us. */
  refused: 4,
  /** A transfer failed: bad objects, unsafe paths, a broken protocol, or the network. */
  transfer: 5,
  /** `offer --wait`: the job failed, was cancelled or rejected, or its tests fail. */
  jobFailed: 6,
  /** `offer --wait`: no builder could take the job (none trusted, none matching, all unreachable) for the whole `--unplaced-timeout`; it stays queued. */
  unplaceable: 7
} as const

const BY_ERROR_NAME: Record<string, number> = {
  InvalidRequestError: EXIT.usage,
  InvalidConfigError: EXIT.usage,
  InvalidIdentityError: EXIT.usage,
  SecretsFileError: EXIT.usage,
  InvalidCommandEnvironmentError: EXIT.usage,
  NotARepositoryError: EXIT.usage,
  BareRepositoryError: EXIT.usage,
  OperationInProgressError: EXIT.usage,
  UsageError: EXIT.usage,
  DaemonNotRunningError: EXIT.noDaemon,
  DaemonGoneError: EXIT.noDaemon,
  HomeNotInitializedError: EXIT.noDaemon,
  DaemonAlreadyRunningError: EXIT.usage,
  RefusedError: EXIT.refused,
  ObjectMismatchError: EXIT.transfer,
  ProtocolError: EXIT.transfer,
  UnsafePathError: EXIT.transfer,
  InvalidMessageError: EXIT.transfer,
  FrameTooLargeError: EXIT.transfer,
  MalformedObjectError: EXIT.transfer,
  PeerUnreachableError: EXIT.transfer,
  GitCommandError: EXIT.failure,
  UnexpectedEndError: EXIT.transfer,
  UnexpectedEOFError: EXIT.transfer,
  TimeoutError: EXIT.transfer,
  JobNotFoundError: EXIT.usage,
  AmbiguousJobError: EXIT.usage,
  InvalidProjectConfigError: EXIT.usage,
  InvalidPromptError: EXIT.usage,
  JobStateError: EXIT.usage,
  IllegalTransitionError: EXIT.usage,
  JobChangedError: EXIT.usage,
  UnresolvedConflictsError: EXIT.usage
}

export function exitCodeFor (err: unknown): number {
  const name = (err as { name?: string })?.name
  return (name !== undefined ? BY_ERROR_NAME[name] : undefined) ?? EXIT.failure
}
