import { describe, expect, it } from 'vitest'
import { describeIssue, TaskOptionsSchema } from '../../../src/jobs/task-options.js'

// The rules are run through all three edges in test/e2e/task-options.test.ts; these are the
// schema's own shapes: defaults, lists, the message format the edges build on.
describe('TaskOptionsSchema', () => {
  it('fills in the defaults, and leaves attempts, test and name to later', () => {
    expect(TaskOptionsSchema.parse({})).toEqual({ priority: 0, after: [], owns: [], fanout: 1, builders: [], stack: false, fanoutStop: 'none' })
  })

  it('reads one value as a list, and drops repeats', () => {
    expect(TaskOptionsSchema.parse({ owns: 'src/**', after: ['a', 'a', 'b'] })).toMatchObject({ owns: ['src/**'], after: ['a', 'b'] })
  })

  it('stacks on exactly one after job', () => {
    expect(TaskOptionsSchema.parse({ after: ['a'], stack: true })).toMatchObject({ stack: true })
    const refused = TaskOptionsSchema.safeParse({ after: ['a', 'b'], stack: true })
    expect(refused.success).toBe(false)
    expect(describeIssue(refused.error!)).toBe('stack: needs exactly one after job to stack on (2 given)')
  })

  it('names the field of the first problem, as the edge spells it', () => {
    const refused = TaskOptionsSchema.safeParse({ owns: ['src/**', '/abs'] })
    expect(describeIssue(refused.error!, field => `--${field}`)).toBe('--owns: "/abs" is an absolute path: write it relative to the repository root')
  })
})
