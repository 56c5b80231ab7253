import type { Job } from '../jobs/job.js'

/** What the scheduler knows of one trusted builder when it explains a job it cannot place. */
export interface KnownBuilder {
  peerId: string
  /** Its tags as it last said; undefined when it was never asked. */
  tags?: readonly string[]
  /** False when it could not be asked (down, unreachable, not a builder); undefined when never asked. */
  reachable?: boolean
}

/** Why a ready job waits, beyond busy builders: nothing will take it until the user acts or a builder comes back. */
export interface PlacementProblem {
  reason: string
  /** When the scheduler first saw this problem for the job (ms since the epoch). */
  since: number
}

/**
 * Why no builder can take `job` at all, or undefined when one can (it may still wait for a free
 * slot, which is not a problem). A builder never asked counts as one that may match: the answer
 * errs towards silence, so a warning is always true.
 */
export function placementProblem (job: Pick<Job, 'builders'>, builders: readonly KnownBuilder[]): string | undefined {
  if (builders.length === 0) return 'no builder is trusted: trust one with `gitmesh trust <peer-id> --role builder`'
  const mayMatch = (b: KnownBuilder): boolean => job.builders.length === 0 || b.tags === undefined ||
    job.builders.some(item => item === b.peerId || b.tags!.includes(item))
  const matching = builders.filter(mayMatch)
  if (matching.length === 0) {
    return `no trusted builder matches builders: ${job.builders.join(', ')} (their tags: ${describeTags(builders)})`
  }
  if (matching.every(b => b.reachable === false)) {
    const count = matching.length
    return `${count === 1 ? 'the one builder that could take it is' : `all ${count} builders that could take it are`} unreachable (offline, or not running as a builder)`
  }
  return undefined
}

function describeTags (builders: readonly KnownBuilder[]): string {
  const tags = [...new Set(builders.flatMap(b => b.tags ?? []))]
  return tags.length === 0 ? 'none' : tags.join(', ')
}
