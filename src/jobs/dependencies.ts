import type { Job, JobState, RanOn } from './job.js'

/** Dependency states that can never lead to acceptance: their dependents are blocked for good. */
const DEAD_ENDS: readonly JobState[] = ['failed', 'rejected', 'cancelled']

/** Dependency states whose (passing) result a `stack: true` job may start on. */
const STACKABLE: readonly JobState[] = ['returned', 'merged']

export interface DependencyStatus {
  /** Every dependency is accepted. */
  ready: boolean
  /** Some dependency failed, was rejected or cancelled: the job can never run. */
  dead: boolean
  blockedBy?: { job: string, reason: string }
  /** Ready because this dependency returned a passing result the (stacked) job may start on. */
  stackOn?: Job
}

/** Finds jobs by name: a map of them, or a store lookup. */
export interface JobsByName {
  get: (name: string) => Job | undefined
}

/**
 * Where a job stands with its `after:` dependencies. A dependency that is not offered yet is
 * waited for (a folder of prompt files is offered in no particular order); one that failed, was
 * rejected or cancelled blocks the job for good.
 */
export function dependencyStatus (job: Pick<Job, 'after' | 'stack'>, byName: JobsByName): DependencyStatus {
  let stackOn: Job | undefined
  for (const name of job.after) {
    const dependency = byName.get(name)
    if (dependency === undefined) return { ready: false, dead: false, blockedBy: { job: name, reason: `waiting for ${name}, which is not offered yet` } }
    if (dependency.state === 'accepted') continue
    if (job.stack && STACKABLE.includes(dependency.state) && dependency.result?.passed === true) {
      stackOn = dependency
      continue
    }
    if (DEAD_ENDS.includes(dependency.state)) {
      return { ready: false, dead: true, blockedBy: { job: name, reason: `${name} was ${dependency.state}${dependency.reason !== undefined ? ` (${dependency.reason})` : ''}` } }
    }
    const awaited = job.stack ? 'to pass its tests or be accepted' : 'to be accepted'
    return { ready: false, dead: false, blockedBy: { job: name, reason: `waiting for ${name} (${dependency.state}${dependency.result?.passed === false ? ', tests fail' : ''}) ${awaited}` } }
  }
  return stackOn !== undefined ? { ready: true, dead: false, stackOn } : { ready: true, dead: false }
}

/** The commit a stacked job runs on: its dependency's passing result B. */
export function stackedBase (dependency: Pick<Job, 'name' | 'round' | 'result'>): RanOn {
  return { kind: 'stacked-on', commit: dependency.result!.commit, job: dependency.name, round: dependency.round }
}

/**
 * True while the result a stacked round builds on still stands: the dependency is in the round
 * that made it, with that result, returned, merged or accepted. Otherwise (rejected, or a new
 * round) the stacked round is stale and must run again.
 */
export function stackStands (base: RanOn, dependency: Pick<Job, 'state' | 'round' | 'result'> | undefined): boolean {
  if (base.kind !== 'stacked-on') return true
  return dependency !== undefined && ['returned', 'merged', 'accepted'].includes(dependency.state) &&
    dependency.round === base.round && dependency.result?.commit === base.commit
}

/**
 * The cycle a job named `name` depending on `after` would close, as a list of names from `name`
 * back to `name`, or undefined when there is none.
 */
export function findCycle (name: string, after: readonly string[], byName: (name: string) => Pick<Job, 'after'> | undefined): string[] | undefined {
  const visiting = new Set<string>()
  const walk = (current: string, path: string[]): string[] | undefined => {
    if (current === name) return [...path, current]
    if (visiting.has(current)) return undefined
    visiting.add(current)
    for (const next of byName(current)?.after ?? []) {
      const cycle = walk(next, [...path, current])
      if (cycle !== undefined) return cycle
    }
    return undefined
  }
  for (const dependency of after) {
    const cycle = walk(dependency, [name])
    if (cycle !== undefined) return cycle
  }
  return undefined
}

/**
 * True when a stacked result can be merged: the result it stacks on is accepted, so the working
 * tree's HEAD holds it. That is so while the dependency is `accepted`, and still after it went on
 * from `accepted` to a later round (a watched file saved again), which leaves a stacked job's
 * round as it is; a new round from any other state would have started the stacked job's next
 * round, so a later round with an accepted commit means the base was accepted.
 */
export function stackAccepted (base: RanOn, dependency: Pick<Job, 'state' | 'round' | 'acceptedCommit'> | undefined): boolean {
  if (base.kind !== 'stacked-on') return true
  if (dependency === undefined) return false
  return dependency.state === 'accepted' || (dependency.acceptedCommit !== undefined && dependency.round > (base.round ?? 0))
}
