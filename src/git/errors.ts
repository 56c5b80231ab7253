/** Errors of the git layer, named by `.name` so callers and tests can tell them apart. */

export class GitCommandError extends Error {
  override readonly name = 'GitCommandError'
  constructor (readonly args: readonly string[], readonly exitCode: number | null, readonly stderr: string) {
    super(`git ${args.join(' ')} failed (${exitCode ?? 'killed'}): ${stderr.trim() || 'no output'}`)
  }
}

export class NotARepositoryError extends Error {
  override readonly name = 'NotARepositoryError'
  constructor (readonly dir: string) {
    super(`${dir} is not a git repository (or any of its parents)`)
  }
}

export class BareRepositoryError extends Error {
  override readonly name = 'BareRepositoryError'
  constructor (readonly dir: string) {
    super(`${dir} is a bare repository: a snapshot needs a working tree`)
  }
}

export class OperationInProgressError extends Error {
  override readonly name = 'OperationInProgressError'
  constructor (readonly dir: string, readonly operation: string) {
    super(`${dir} is in the middle of a ${operation}: finish or abort it first`)
  }
}

export class UnsafePathError extends Error {
  override readonly name = 'UnsafePathError'
  /** `tree` is the id of the offending tree, when the check ran on received objects. */
  constructor (readonly entryName: string, readonly reason: string, readonly tree?: string) {
    super(`unsafe tree entry ${JSON.stringify(entryName)}${tree !== undefined ? ` in tree ${tree}` : ''}: ${reason}`)
  }
}

export class MalformedObjectError extends Error {
  override readonly name = 'MalformedObjectError'
}

/** A received object (or delta, or the object a delta makes) is larger than the limit. */
export class ObjectTooLargeError extends Error {
  override readonly name = 'ObjectTooLargeError'
  constructor (readonly bytes: number, readonly limit: number, what = 'an object') {
    super(`${what} of ${bytes} bytes exceeds the limit of ${limit} bytes`)
  }
}

/** The disk (or quota) holding a repository is full: what failed to be written was discarded whole. */
export class DiskFullError extends Error {
  override readonly name = 'DiskFullError'
  constructor (readonly dir: string, detail: string) {
    super(`no space left on the device holding ${dir} (${detail}): nothing partial was kept; free some space and fetch again`)
  }
}

export class MissingObjectError extends Error {
  override readonly name = 'MissingObjectError'
  constructor (readonly oid: string) {
    super(`object ${oid} is missing`)
  }
}

/** One path that stopped an operation, and why (a reason word such as `content` or `deleted-in-head`). */
export interface PathProblem {
  path: string
  reason: string
  /** Line ranges of the job's version (`12-14`) that collide with what HEAD holds, for content conflicts. */
  lines?: string[]
}

export class ChangeDoesNotApplyError extends Error {
  override readonly name = 'ChangeDoesNotApplyError'
  /** `hint` is the way out, added by the caller that knows the command to offer. */
  constructor (readonly conflicts: readonly PathProblem[], readonly hint?: string) {
    super(`the change does not apply cleanly to HEAD: ${conflicts.map(describeProblem).join(', ')}${hint !== undefined ? `; ${hint}` : ''}`)
  }
}

function describeProblem (problem: PathProblem): string {
  const lines = problem.lines !== undefined && problem.lines.length > 0 ? `, the job's line${problem.lines.length > 1 || problem.lines[0]!.includes('-') ? 's' : ''} ${problem.lines.join(', ')}` : ''
  return `${problem.path} (${problem.reason}${lines})`
}

export class NothingToCommitError extends Error {
  override readonly name = 'NothingToCommitError'
  constructor () {
    super('HEAD already holds the whole change: nothing to commit')
  }
}

export class HeadMovedError extends Error {
  override readonly name = 'HeadMovedError'
  /** `expected` is the commit HEAD pointed at when the operation started (undefined: unborn). */
  constructor (readonly expected: string | undefined, readonly detail: string) {
    super(`HEAD moved while the change was being committed (it was at ${expected ?? 'no commit'}): ${detail}`)
  }
}

export class IndexLockedError extends Error {
  override readonly name = 'IndexLockedError'
  constructor (readonly lockFile: string) {
    super(`${lockFile} exists: another git command is running; if none is, remove the file and try again`)
  }
}

export class RestoreIncompleteError extends Error {
  override readonly name = 'RestoreIncompleteError'
  constructor (readonly problems: readonly PathProblem[]) {
    super(`some paths could not be restored: ${problems.map(p => `${p.path} (${p.reason})`).join(', ')}`)
  }
}
