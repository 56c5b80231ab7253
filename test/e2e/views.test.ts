import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCliJson, startDaemon, type DaemonProcess } from '../../src/demo/processes.js'
import type { JobView } from '../../src/daemon/views.js'
import { TestRepo } from '../helpers/git-repo.js'

/** Every key of JobView; the type checker keeps this list and the type the same. */
const JOB_VIEW_KEYS: Record<keyof JobView, true> = {
  id: true, name: true, state: true, reason: true, prompt: true, repo: true, snapshot: true, builder: true, round: true,
  attempt: true, attemptsBudget: true, progress: true, test: true, setup: true, attempts: true, usage: true, result: true, merge: true,
  acceptedCommit: true, priority: true, after: true, owns: true, fanout: true, builders: true, fanoutBuilders: true,
  fanoutStop: true, stack: true, ranOn: true, blockedBy: true, outsideOwns: true, candidates: true, overlaps: true,
  waitingFor: true, builderLoad: true, elapsedMs: true, createdAt: true, updatedAt: true
}

/** The keys docs/cli.md lists in "The job object" table. */
function documentedJobKeys (): string[] {
  const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8')
  const section = doc.slice(doc.indexOf('### The job object'))
  const table = section.slice(section.indexOf('| key |'), section.indexOf('\n\n', section.indexOf('| key |')))
  return table.split('\n').slice(2).map(row => /^\| `([^`]+)` \|/.exec(row)?.[1]).filter((key): key is string => key !== undefined)
}

describe('the job JSON', () => {
  let root: string
  let home: string
  let daemon: DaemonProcess
  let repo: TestRepo

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'gitmesh-views-'))
    home = path.join(root, 'home')
    await runCliJson(home, ['init'])
    daemon = await startDaemon(home)
    repo = TestRepo.init({ dir: path.join(root, 'project') })
    writeFileSync(path.join(repo.dir, 'gitmesh.json'), JSON.stringify({ test: 'true' }) + '\n')
    repo.git(['add', '.'])
    repo.git(['commit', '-q', '-m', 'init'])
  })

  afterAll(async () => {
    await daemon?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it('has exactly the keys docs/cli.md documents, the keys of the JobView type', async () => {
    await runCliJson(home, ['offer', '--repo', repo.dir, '-m', 'Validate email addresses.', '--name', 'email'])
    const shown = await runCliJson<Record<string, unknown>>(home, ['show', 'email'])
    const listed = await runCliJson<Array<Record<string, unknown>>>(home, ['jobs'])
    const documented = documentedJobKeys().sort()
    expect(documented).toEqual(Object.keys(JOB_VIEW_KEYS).sort())
    expect(Object.keys(shown).sort()).toEqual(documented)
    expect(Object.keys(listed[0]!).sort()).toEqual(documented)
  })
})
