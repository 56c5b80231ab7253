import { describe, expect, it } from 'vitest'
import { dependencyStatus, stackAccepted, stackedBase, stackStands } from '../../../src/jobs/dependencies.js'
import type { Job, JobState } from '../../../src/jobs/job.js'

const B = '8dbd366d17fc6a39ae29edb61afcefcea943301f'
const B2 = 'f84745714ca429ce143f68047fc084fc5cb6f135'

/** The fields of a dependency these functions read. */
function dependency (state: JobState, passed?: boolean, round = 1, commit = B): Job {
  return {
    name: 'x',
    state,
    round,
    result: passed === undefined ? undefined : { commit, passed, builder: 'b', summary: '', committedAt: 0, receivedAt: 0, receipt: '' }
  } as unknown as Job
}

const byName = (x: Job | undefined) => ({ get: (name: string) => name === 'x' ? x : undefined })

describe('dependencyStatus', () => {
  it('waits for a dependency to be accepted, unless the job stacks on its passing result', () => {
    const returned = dependency('returned', true)
    expect(dependencyStatus({ after: ['x'], stack: false }, byName(returned))).toMatchObject({ ready: false, dead: false, blockedBy: { job: 'x', reason: 'waiting for x (returned) to be accepted' } })
    expect(dependencyStatus({ after: ['x'], stack: true }, byName(returned))).toEqual({ ready: true, dead: false, stackOn: returned })
    expect(dependencyStatus({ after: ['x'], stack: true }, byName(dependency('merged', true))).ready).toBe(true)
  })

  it('does not stack on a failing result, nor on one still running', () => {
    expect(dependencyStatus({ after: ['x'], stack: true }, byName(dependency('returned', false)))).toMatchObject({ ready: false, dead: false, blockedBy: { reason: 'waiting for x (returned, tests fail) to pass its tests or be accepted' } })
    expect(dependencyStatus({ after: ['x'], stack: true }, byName(dependency('generating'))).ready).toBe(false)
  })

  it('is ready without a stack base once the dependency is accepted, stacked or not', () => {
    expect(dependencyStatus({ after: ['x'], stack: true }, byName(dependency('accepted', true)))).toEqual({ ready: true, dead: false })
    expect(dependencyStatus({ after: ['x'], stack: false }, byName(dependency('accepted', true)))).toEqual({ ready: true, dead: false })
  })

  it('is blocked for good by a rejected dependency, stacked or not', () => {
    expect(dependencyStatus({ after: ['x'], stack: true }, byName(dependency('rejected', true)))).toMatchObject({ ready: false, dead: true })
  })
})

describe('stacked bases', () => {
  it('a stacked job runs on the dependency\'s result, named by job and round', () => {
    expect(stackedBase(dependency('returned', true, 2))).toEqual({ kind: 'stacked-on', commit: B, job: 'x', round: 2 })
  })

  it('stands while the dependency keeps that result: returned, merged or accepted in that round', () => {
    const base = stackedBase(dependency('returned', true))
    for (const state of ['returned', 'merged', 'accepted'] as const) expect(stackStands(base, dependency(state, true))).toBe(true)
  })

  it('falls when the result is rejected, replaced by a new round, or the dependency is gone', () => {
    const base = stackedBase(dependency('returned', true))
    expect(stackStands(base, dependency('rejected', true))).toBe(false)
    expect(stackStands(base, dependency('queued', undefined, 2))).toBe(false)
    expect(stackStands(base, dependency('returned', true, 2, B2))).toBe(false)
    expect(stackStands(base, undefined)).toBe(false)
  })

  it('other bases always stand', () => {
    expect(stackStands({ kind: 'after-accept', commit: B }, undefined)).toBe(true)
    expect(stackStands({ kind: 'snapshot', commit: B }, undefined)).toBe(true)
  })
})

describe('stackAccepted: when a stacked result may be merged', () => {
  const base = stackedBase(dependency('returned', true))
  it('once the result it stacks on is accepted, and still after that job went on from accepted to a later round', () => {
    expect(stackAccepted(base, { ...dependency('accepted', true), acceptedCommit: B2 })).toBe(true)
    expect(stackAccepted(base, { ...dependency('queued', undefined, 2), acceptedCommit: B2 })).toBe(true)
  })

  it('not before, nor when the job it stacks on is gone', () => {
    expect(stackAccepted(base, dependency('returned', true))).toBe(false)
    expect(stackAccepted(base, dependency('merged', true))).toBe(false)
    expect(stackAccepted(base, undefined)).toBe(false)
  })

  it('other bases need nothing accepted', () => {
    expect(stackAccepted({ kind: 'after-accept', commit: B }, undefined)).toBe(true)
  })
})
