export class JobNotFoundError extends Error {
  override readonly name = 'JobNotFoundError'
  constructor (readonly query: string) {
    super(`no job matches ${JSON.stringify(query)}`)
  }
}

export class AmbiguousJobError extends Error {
  override readonly name = 'AmbiguousJobError'
  constructor (readonly query: string, readonly matches: string[]) {
    super(`${JSON.stringify(query)} matches several jobs: ${matches.slice(0, 5).join(', ')}`)
  }
}

export class InvalidProjectConfigError extends Error {
  override readonly name = 'InvalidProjectConfigError'
  constructor (readonly file: string, detail: string) {
    super(`${file}: ${detail}`)
  }
}

/** A job operation that its current state does not allow (accepting a job with no result, say). */
export class JobStateError extends Error {
  override readonly name = 'JobStateError'
}

export class InvalidPromptError extends Error {
  override readonly name = 'InvalidPromptError'
}

/** Merged files still hold the conflict markers the merge wrote: accepting now would leave them behind. */
export class UnresolvedConflictsError extends Error {
  override readonly name = 'UnresolvedConflictsError'
  constructor (readonly job: string, readonly files: ReadonlyArray<{ path: string, lines: number[] }>) {
    super(`${job}: conflict markers are still in ${files.map(f => `${f.path} (line${f.lines.length > 1 ? 's' : ''} ${f.lines.join(', ')})`).join(', ')}: resolve them and accept again, accept with --force to commit the job's change anyway (the markers stay uncommitted), or reject it`)
  }
}
