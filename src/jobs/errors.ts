import type { Job, JobState } from './job.js'

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
  // Typed as a string so that the errors below can be JobStateErrors with names of their own.
  override readonly name: string = 'JobStateError'
}

export class InvalidPromptError extends Error {
  override readonly name = 'InvalidPromptError'
}

/** A state change the job state machine does not have (src/jobs/transitions.ts). */
export class IllegalTransitionError extends JobStateError {
  override readonly name = 'IllegalTransitionError'
  readonly job: string
  readonly from: JobState
  readonly to: JobState

  constructor (job: Pick<Job, 'id' | 'name' | 'state' | 'round'>, to: JobState, round = job.round) {
    super(round === job.round
      ? `${job.name} (${job.id}) cannot go from ${job.state} to ${to}`
      : `${job.name} (${job.id}) is at round ${job.round}: round ${round} cannot start as ${to}`)
    this.job = job.id
    this.from = job.state
    this.to = to
  }
}

/**
 * A job changed between reading it and writing it (its state or round is not the one the caller
 * decided on): the write is refused rather than overwriting the other change.
 */
export class JobChangedError extends JobStateError {
  override readonly name = 'JobChangedError'
  readonly job: string
  readonly from: JobState
  readonly to: JobState

  constructor (job: Pick<Job, 'id' | 'name' | 'state' | 'round'>, to: JobState, expected: string) {
    super(`${job.name} (${job.id}) is ${job.state} at round ${job.round}, not ${expected}: it did not become ${to}`)
    this.job = job.id
    this.from = job.state
    this.to = to
  }
}

/** Merged files still hold the conflict markers the merge wrote: accepting now would leave them behind. */
export class UnresolvedConflictsError extends Error {
  override readonly name = 'UnresolvedConflictsError'
  constructor (readonly job: string, readonly files: ReadonlyArray<{ path: string, lines: number[] }>) {
    super(`${job}: conflict markers are still in ${files.map(f => `${f.path} (line${f.lines.length > 1 ? 's' : ''} ${f.lines.join(', ')})`).join(', ')}: resolve them and accept again, accept with --force to commit the job's change anyway (the markers stay uncommitted), or reject it`)
  }
}
