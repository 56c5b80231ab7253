import { describe, expect, it } from 'vitest'
import { MAX_INBOUND_STREAMS_PER_CONNECTION } from '../../../src/net/constants.js'
import { MAX_JOB_STREAMS } from '../../../src/jobs/constants.js'
import { MAX_INBOUND_STREAMS } from '../../../src/exchange/constants.js'

describe('net limits', () => {
  it('a connection takes every protocol\'s own stream limit at once, with room for identify and ping', () => {
    // identify 1, identify push 1, ping 2 (their libp2p defaults)
    expect(MAX_INBOUND_STREAMS_PER_CONNECTION).toBeGreaterThanOrEqual(MAX_JOB_STREAMS + MAX_INBOUND_STREAMS + 4)
  })
})
