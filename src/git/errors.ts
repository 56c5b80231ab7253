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

export class MissingObjectError extends Error {
  override readonly name = 'MissingObjectError'
  constructor (readonly oid: string) {
    super(`object ${oid} is missing`)
  }
}
