import { BUILDER_QUEUE_SLACK } from '../jobs/constants.js'
import type { Job } from '../jobs/job.js'

/** What a builder last said about itself. */
export interface BuilderLoad {
  slots: number
  running: number
  queued: number
  tags: string[]
  /** When this was learned (ms since the epoch). */
  at: number
  /** False when the builder could not be asked (down, unreachable, or not a builder). */
  reachable: boolean
  /** It declined an offer as full since it was last asked: nothing more goes to it until it is asked again. */
  full?: boolean
}

/** What placement knows of the builders in one pass. */
export interface PlacementView {
  /** Trusted builders (peer ids). */
  builders: readonly string[]
  loads: ReadonlyMap<string, BuilderLoad>
  /** Round-trip time to a builder in ms; unknown is slowest. */
  rtt: (peerId: string) => number
  /** Builders that hold one of our jobs (or were chosen for one this pass). */
  ours: ReadonlySet<string>
}

/** True when a job's `builders:` list (peer ids or tags) admits this builder. */
export function builderMatches (wanted: readonly string[], peerId: string, tags: readonly string[]): boolean {
  return wanted.length === 0 || wanted.some(item => item === peerId || tags.includes(item))
}

/** Slots a builder has free, counting what waits there. */
export function freeSlots (load: Pick<BuilderLoad, 'slots' | 'running' | 'queued'>): number {
  return load.slots - load.running - load.queued
}

/**
 * The builders that may take one more of `job`, best first: reachable, matching its `builders:`,
 * not in `exclude` (those that hold or have run its round), not full by their own word since
 * they were last asked, and within their slots plus a small
 * queue, or holding none of our jobs (a builder kept full by other authors must still see our
 * work, to serve us in our turn). Most free slots first; ties go to the lowest round-trip time.
 */
export function eligibleBuilders (job: Pick<Job, 'builders'>, view: PlacementView, exclude: ReadonlySet<string> = new Set()): string[] {
  return view.builders
    .filter(b => !exclude.has(b))
    .filter(b => { const load = view.loads.get(b); return load?.reachable === true && load.full !== true && builderMatches(job.builders, b, load.tags) })
    .filter(b => { const load = view.loads.get(b)!; return load.running + load.queued < load.slots + BUILDER_QUEUE_SLACK || !view.ours.has(b) })
    .sort((a, b) => freeSlots(view.loads.get(b)!) - freeSlots(view.loads.get(a)!) || view.rtt(a) - view.rtt(b))
}

export interface Placement<J> {
  job: J
  builder: string
}

/**
 * Chooses a builder for every ready job, in the order given (highest priority first), counting
 * each choice against the builder's load, so one pass spreads the jobs as if every offer had
 * been taken. Returns the choices and the jobs no builder can take now. Pure: `view` is left as
 * it is.
 */
export function choosePlacements<J extends Pick<Job, 'builders'>> (ready: readonly J[], view: PlacementView, exclude: (job: J) => ReadonlySet<string> = () => new Set()): { chosen: Array<Placement<J>>, unplaced: J[] } {
  const loads = new Map([...view.loads].map(([peer, load]) => [peer, { ...load }]))
  const ours = new Set(view.ours)
  const counting: PlacementView = { ...view, loads, ours }
  const chosen: Array<Placement<J>> = []
  const unplaced: J[] = []
  for (const job of ready) {
    const builder = eligibleBuilders(job, counting, exclude(job))[0]
    if (builder === undefined) {
      unplaced.push(job)
      continue
    }
    loads.get(builder)!.queued++
    ours.add(builder)
    chosen.push({ job, builder })
  }
  return { chosen, unplaced }
}
