import { describe, expect, it, vi } from 'vitest'
import { BufferBudget } from '../../../src/wire/budget.js'
import { FloodReclaimer } from '../../../src/daemon/reclaim.js'
import { FLOOD_COLLECT_DELAY_MS, FLOOD_COLLECT_INTERVAL_MS, FLOOD_COLLECT_SETTLE_MS } from '../../../src/daemon/constants.js'

describe('buffer budget pressure', () => {
  it('reports resets over the budget, and the drain once every byte is back after one (not before, not without one)', () => {
    const events: string[] = []
    const budget = new BufferBudget({ peerBytes: 100, daemonBytes: 1000, pressure: { refused: () => events.push('refused'), drained: () => events.push('drained') } })
    const peer = budget.forPeer('a')
    expect(peer.reserve(60)).toBe(true)
    peer.release(60)
    expect(events).toEqual([])
    expect(peer.reserve(60)).toBe(true)
    expect(peer.reserve(60)).toBe(false)
    // A refusal alone (whole frames waiting to be read pause their stream) is not a flood.
    peer.release(60)
    expect(events).toEqual([])
    expect(peer.reserve(60)).toBe(false)
    peer.overran()
    expect(events).toEqual(['refused'])
    peer.release(60)
    expect(events).toEqual(['refused'])
    peer.release(60)
    expect(events).toEqual(['refused', 'drained'])
    expect(budget.bytes).toBe(0)
  })
})

describe('flood reclaimer', () => {
  it('collects at most once per interval while refusals go on, and twice more after the drain', () => {
    vi.useFakeTimers()
    try {
      const collect = vi.fn()
      const reclaimer = new FloodReclaimer(collect)
      for (let i = 0; i < 100; i++) reclaimer.refused()
      vi.advanceTimersByTime(0)
      expect(collect).toHaveBeenCalledTimes(1)
      for (let i = 0; i < 100; i++) reclaimer.refused()
      vi.advanceTimersByTime(FLOOD_COLLECT_INTERVAL_MS - 10)
      expect(collect).toHaveBeenCalledTimes(1)
      vi.advanceTimersByTime(10)
      expect(collect).toHaveBeenCalledTimes(2)
      reclaimer.drained()
      vi.advanceTimersByTime(FLOOD_COLLECT_DELAY_MS)
      expect(collect).toHaveBeenCalledTimes(3)
      vi.advanceTimersByTime(FLOOD_COLLECT_SETTLE_MS - 1)
      expect(collect).toHaveBeenCalledTimes(3)
      vi.advanceTimersByTime(1)
      expect(collect).toHaveBeenCalledTimes(4)
      vi.advanceTimersByTime(10 * FLOOD_COLLECT_SETTLE_MS)
      expect(collect).toHaveBeenCalledTimes(4)
      // A new flood, long after the last collection, is collected at once again.
      reclaimer.refused()
      vi.advanceTimersByTime(0)
      expect(collect).toHaveBeenCalledTimes(5)
    } finally {
      vi.useRealTimers()
    }
  })

  it('collects for real by default', () => {
    vi.useFakeTimers()
    try {
      const reclaimer = new FloodReclaimer()
      reclaimer.drained()
      vi.advanceTimersByTime(FLOOD_COLLECT_DELAY_MS)
      expect(reclaimer.collections).toBe(1)
    } finally {
      vi.useRealTimers()
    }
  })
})
