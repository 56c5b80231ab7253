import type { Job, JobState } from './job.js'

/** Dependency states that can never lead to acceptance: their dependents are blocked for good. */
const DEAD_ENDS: readonly JobState[] = ['failed', 'rejected', 'cancelled']

export interface DependencyStatus {
  /** Every dependency is accepted. */
  ready: boolean
  /** Some dependency failed, was rejected or cancelled: the job can never run. */
  dead: boolean
  blockedBy?: { job: string, reason: string }
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
export function dependencyStatus (job: Job, byName: JobsByName): DependencyStatus {
  for (const name of job.after) {
    const dependency = byName.get(name)
    if (dependency === undefined) return { ready: false, dead: false, blockedBy: { job: name, reason: `waiting for ${name}, which is not offered yet` } }
    if (dependency.state === 'accepted') continue
    if (DEAD_ENDS.includes(dependency.state)) {
      return { ready: false, dead: true, blockedBy: { job: name, reason: `${name} was ${dependency.state}${dependency.reason !== undefined ? ` (${dependency.reason})` : ''}` } }
    }
    return { ready: false, dead: false, blockedBy: { job: name, reason: `waiting for ${name} (${dependency.state}) to be accepted` } }
  }
  return { ready: true, dead: false }
}

/**
 * The cycle a job named `name` depending on `after` would close, as a list of names from `name`
 * back to `name`, or undefined when there is none.
 */
export function findCycle (name: string, after: readonly string[], byName: ReadonlyMap<string, Pick<Job, 'after'>>): string[] | undefined {
  const visiting = new Set<string>()
  const walk = (current: string, path: string[]): string[] | undefined => {
    if (current === name) return [...path, current]
    if (visiting.has(current)) return undefined
    visiting.add(current)
    for (const next of byName.get(current)?.after ?? []) {
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
