import { describe, expect, it } from 'vitest'
import { startOrder, type WaitingJob } from '../../../src/builder/start-order.js'

let clock = 0
function job (author: string, id: string, priority?: number): WaitingJob {
  return { author, createdAt: ++clock, spec: { id, priority } }
}
const ids = (jobs: WaitingJob[]): string[] => jobs.map(j => j.spec.id)

describe('startOrder: the builder\'s fairness rule', () => {
  it('takes the authors in turn, so one author\'s many jobs never starve another\'s one', () => {
    const waiting = [job('A', 'a1'), job('A', 'a2'), job('A', 'a3'), job('B', 'b1'), job('C', 'c1'), job('C', 'c2')]
    expect(ids(startOrder(waiting, undefined))).toEqual(['a1', 'b1', 'c1', 'a2', 'c2', 'a3'])
  })

  it('starts with the author after the one served last, wrapping around', () => {
    const waiting = [job('A', 'a1'), job('B', 'b1'), job('C', 'c1')]
    expect(ids(startOrder(waiting, 'A'))).toEqual(['b1', 'c1', 'a1'])
    expect(ids(startOrder(waiting, 'C'))).toEqual(['a1', 'b1', 'c1'])
    // An author that has nothing waiting any more still marks the place in the turn.
    expect(ids(startOrder(waiting, 'Bz'))).toEqual(['c1', 'a1', 'b1'])
  })

  it('orders one author\'s jobs by priority, then age; priority never jumps the authors\' turn', () => {
    const waiting = [job('A', 'old'), job('A', 'urgent', 5), job('A', 'low', -1), job('A', 'new'), job('B', 'b-urgent', 1000)]
    expect(ids(startOrder(waiting, 'B'))).toEqual(['urgent', 'b-urgent', 'old', 'new', 'low'])
  })

  it('stops at the limit', () => {
    const waiting = [job('A', 'a1'), job('B', 'b1'), job('A', 'a2')]
    expect(ids(startOrder(waiting, undefined, 2))).toEqual(['a1', 'b1'])
    expect(startOrder([], 'A')).toEqual([])
  })
})
