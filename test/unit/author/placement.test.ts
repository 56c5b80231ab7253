import { describe, expect, it } from 'vitest'
import { builderMatches, choosePlacements, eligibleBuilders, type BuilderLoad, type PlacementView } from '../../../src/author/placement.js'
import { BUILDER_QUEUE_SLACK } from '../../../src/jobs/constants.js'

function load (slots: number, running = 0, queued = 0, tags: string[] = [], reachable = true): BuilderLoad {
  return { slots, running, queued, tags, at: 0, reachable }
}

function view (loads: Record<string, BuilderLoad>, rtts: Record<string, number> = {}, ours: string[] = []): PlacementView {
  return {
    builders: Object.keys(loads),
    loads: new Map(Object.entries(loads)),
    rtt: peer => rtts[peer] ?? Number.MAX_SAFE_INTEGER,
    ours: new Set(ours)
  }
}

const job = (name: string, builders: string[] = []): { name: string, builders: string[] } => ({ name, builders })

describe('builderMatches', () => {
  it('admits any builder when the job names none, and otherwise one named by peer id or tag', () => {
    expect(builderMatches([], 'a', [])).toBe(true)
    expect(builderMatches(['a'], 'a', [])).toBe(true)
    expect(builderMatches(['gpu'], 'b', ['gpu', 'linux'])).toBe(true)
    expect(builderMatches(['gpu'], 'b', ['linux'])).toBe(false)
    expect(builderMatches(['a'], 'b', [])).toBe(false)
  })
})

describe('eligibleBuilders', () => {
  it('puts the builder with the most free slots first, and breaks ties by the lowest round-trip time', () => {
    const builders = view({ busy: load(4, 3), idle: load(4), far: load(4, 1), near: load(4, 1) }, { far: 80, near: 5 })
    expect(eligibleBuilders(job('x'), builders)).toEqual(['idle', 'near', 'far', 'busy'])
  })

  it('leaves out unreachable builders, builders whose tags do not match, and excluded ones', () => {
    const builders = view({ down: load(4, 0, 0, ['gpu'], false), cpu: load(4), gpu: load(2, 0, 0, ['gpu']), held: load(8, 0, 0, ['gpu']) })
    expect(eligibleBuilders(job('x', ['gpu']), builders, new Set(['held']))).toEqual(['gpu'])
    expect(eligibleBuilders(job('x', ['cpu']), builders)).toEqual(['cpu'])
  })

  it('fills a builder that holds our jobs only up to its slots plus the queue slack', () => {
    const atLimit = load(2, 2, BUILDER_QUEUE_SLACK)
    const belowLimit = load(2, 2, BUILDER_QUEUE_SLACK - 1)
    expect(eligibleBuilders(job('x'), view({ atLimit, belowLimit }, {}, ['atLimit', 'belowLimit']))).toEqual(['belowLimit'])
  })

  it('offers one job to a full builder that holds none of ours, so other authors cannot starve us', () => {
    const full = load(2, 2, 10)
    expect(eligibleBuilders(job('x'), view({ full }))).toEqual(['full'])
    expect(eligibleBuilders(job('x'), view({ full }, {}, ['full']))).toEqual([])
  })

  it('offers nothing to a builder that declined as full until it is asked again', () => {
    expect(eligibleBuilders(job('x'), view({ declined: { ...load(2, 2, 10), full: true } }))).toEqual([])
  })
})

describe('choosePlacements', () => {
  it('spreads one pass over the builders, counting each choice against the builder it went to', () => {
    const builders = view({ a: load(2), b: load(2) }, { a: 1, b: 2 })
    const ready = Array.from({ length: 6 }, (_, i) => job(`j${i}`))
    const { chosen, unplaced } = choosePlacements(ready, builders)
    // a has the lower RTT, so it wins each tie; each choice takes one of its free slots.
    expect(chosen.map(c => `${c.job.name}@${c.builder}`)).toEqual(['j0@a', 'j1@b', 'j2@a', 'j3@b', 'j4@a', 'j5@b'])
    expect(unplaced).toEqual([])
  })

  it('stops at slots plus slack on every builder and returns the rest, highest priority (first given) placed first', () => {
    const builders = view({ only: load(1) }, {}, ['only'])
    const ready = Array.from({ length: 1 + BUILDER_QUEUE_SLACK + 2 }, (_, i) => job(`p${i}`))
    const { chosen, unplaced } = choosePlacements(ready, builders)
    expect(chosen.map(c => c.job.name)).toEqual(ready.slice(0, 1 + BUILDER_QUEUE_SLACK).map(j => j.name))
    expect(unplaced.map(j => j.name)).toEqual(['p3', 'p4'])
  })

  it('gives a builder holding none of our jobs one job, not more, when it is full', () => {
    const { chosen, unplaced } = choosePlacements([job('one'), job('two')], view({ full: load(1, 1, 5) }))
    expect(chosen.map(c => c.job.name)).toEqual(['one'])
    expect(unplaced.map(j => j.name)).toEqual(['two'])
  })

  it('places a tagged job only on a matching builder, even when another has more room', () => {
    const builders = view({ big: load(8), gpu: load(1, 0, 0, ['gpu']) })
    const { chosen } = choosePlacements([job('train', ['gpu']), job('docs')], builders)
    expect(chosen.map(c => `${c.job.name}@${c.builder}`)).toEqual(['train@gpu', 'docs@big'])
  })

  it('never offers a job to a builder it excludes (one that already ran its round)', () => {
    const { chosen, unplaced } = choosePlacements([job('again')], view({ ran: load(4) }), () => new Set(['ran']))
    expect(chosen).toEqual([])
    expect(unplaced.map(j => j.name)).toEqual(['again'])
  })

  it('leaves the view it was given as it was', () => {
    const builders = view({ a: load(2) })
    choosePlacements([job('x'), job('y')], builders)
    expect(builders.loads.get('a')).toEqual(load(2))
    expect([...builders.ours]).toEqual([])
  })
})
