import { describe, expect, it } from 'vitest'
import { generatorTimeouts } from '../../../src/builder/timeouts.js'
import { DEFAULT_IDLE_TIMEOUT_MS } from '../../../src/jobs/constants.js'

describe('generatorTimeouts: gitmesh.json, then the builder\'s flags, then the defaults', () => {
  const spec = { generateTimeoutMs: 3_600_000 }

  it('uses the spec\'s generateTimeoutMs and DEFAULT_IDLE_TIMEOUT_MS when neither the project nor the builder says', () => {
    expect(generatorTimeouts(spec)).toEqual({ timeoutMs: 3_600_000, idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS })
  })

  it('lets the builder\'s --generate-timeout and --idle-timeout replace the defaults', () => {
    expect(generatorTimeouts(spec, { generateMs: 2_700_000, idleMs: 600_000 })).toEqual({ timeoutMs: 2_700_000, idleTimeoutMs: 600_000 })
  })

  it('lets the project\'s own timeouts win over the builder\'s', () => {
    expect(generatorTimeouts({ ...spec, timeouts: { generate: 5_400_000, idle: 1_200_000 } }, { generateMs: 2_700_000, idleMs: 600_000 })).toEqual({ timeoutMs: 5_400_000, idleTimeoutMs: 1_200_000 })
    // one set, the other left to the builder
    expect(generatorTimeouts({ ...spec, timeouts: { idle: 1_200_000 } }, { generateMs: 2_700_000 })).toEqual({ timeoutMs: 2_700_000, idleTimeoutMs: 1_200_000 })
  })
})
