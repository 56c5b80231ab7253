import { describe, expect, it } from 'vitest'
import { candidatesTable, jobsTable, ranOnText } from '../../../src/cli/commands/jobs.js'
import type { CandidateView, JobView } from '../../../src/daemon/views.js'

const B = '8dbd366d17fc6a39ae29edb61afcefcea943301f'
const B2 = 'f84745714ca429ce143f68047fc084fc5cb6f135'
// eslint-disable-next-line no-control-regex
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '')

function candidate (fields: Partial<CandidateView>): CandidateView {
  return { number: 1, commit: B, passed: true, builder: '12D3KooWbzyW9d', receivedAt: 0, proposed: false, files: 1, added: 1, removed: 0, ms: 400, ...fields }
}

function job (fields: Partial<JobView>): JobView {
  return {
    id: 'a1b2c3d4e5f6',
    name: 'two-ways',
    state: 'returned',
    reason: null,
    prompt: 'p',
    repo: '/r',
    snapshot: B,
    builder: '12D3KooWbzyW9d',
    round: 1,
    attempt: 1,
    attemptsBudget: 3,
    progress: null,
    test: 'npm test',
    setup: null,
    attempts: [],
    usage: null,
    result: { commit: B, passed: true, builder: '12D3KooWbzyW9d', summary: 'tests passed', committedAt: 0, receivedAt: 0 },
    merge: null,
    acceptedCommit: null,
    priority: 0,
    after: [],
    owns: [],
    builders: [],
    blockedBy: null,
    outsideOwns: [],
    candidates: [],
    fanout: 1,
    fanoutStop: 'none',
    fanoutBuilders: [],
    stack: false,
    ranOn: { kind: 'snapshot', commit: B },
    overlaps: [],
    waitingFor: null,
    builderLoad: null,
    elapsedMs: 1000,
    createdAt: 0,
    updatedAt: 0,
    ...fields
  }
}

describe('show: which commit a round ran on', () => {
  it('names the commit and why it is that one', () => {
    expect(ranOnText({ kind: 'snapshot', commit: B })).toBe('8dbd366d17 (the working tree when offered)')
    expect(ranOnText({ kind: 'after-accept', commit: B })).toBe('8dbd366d17 (a snapshot taken once its dependencies were accepted)')
    expect(ranOnText({ kind: 'stacked-on', commit: B, job: 'data-model', round: 2 })).toBe('8dbd366d17 (stacked on the result of data-model, round 2)')
    expect(ranOnText(null)).toBe('chosen when its dependencies are ready')
  })
})

describe('show: fan-out candidates side by side', () => {
  it('one row per candidate: tests, files, lines added and removed, time, and which is proposed', () => {
    const view = job({
      fanout: 2,
      candidates: [
        candidate({ number: 1, proposed: true }),
        candidate({ number: 2, commit: B2, builder: '12D3KooW1SCXNW', passed: false, files: 2, added: 3, removed: 1, ms: 1250 })
      ]
    })
    const rows = plain(candidatesTable(view)).split('\n').filter(line => /│ \d/.test(line)).map(line => line.split('│').map(cell => cell.trim()).filter(Boolean))
    expect(rows).toEqual([
      ['1', '…bzyW9d', 'pass', '1', '+1', '-0', '0.4s', 'proposed'],
      ['2', '…1SCXNW', 'fail', '2', '+3', '-1', '1.3s', 'gitmesh diff two-ways#2']
    ])
  })

  it('a candidate taken before sizes were measured shows dashes', () => {
    const view = job({ candidates: [candidate({ files: null, added: null, removed: null, ms: null })] })
    expect(plain(candidatesTable(view))).toMatch(/│ 1 +│ …bzyW9d +│ pass +│ - +│ - +│ - +│ - +│/)
  })
})

describe('jobs: fan-out results counted in the result column', () => {
  it('says how many results came, how many pass, and how many builders still run', () => {
    const view = job({ fanout: 3, candidates: [candidate({ proposed: true }), candidate({ number: 2, passed: false })], fanoutBuilders: ['12D3KooWother'] })
    expect(plain(jobsTable([view]))).toContain('8dbd366d17 tests pass (2 results, 1 pass, 1 running)')
    expect(plain(jobsTable([job({})]))).not.toContain('results')
  })
})
