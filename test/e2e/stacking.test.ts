import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_PATH } from '../../src/demo/processes.js'
import { blockingGenerator, git, JobRig } from '../helpers/job-rig.js'

const block = (file: string, content: string): string => `\`\`\`txt path=${file}\n${content}\n\`\`\`\n`

describe('dependencies run on their dependency\'s change', () => {
  let rig: JobRig | undefined
  const scratch: string[] = []
  afterEach(async () => {
    await rig?.stop()
    rig = undefined
    for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('after: a dependent runs on a snapshot taken once its dependency is accepted, which holds that change', async () => {
    rig = await JobRig.start()
    const first = await rig.offer(`first\n\n${block('first.txt', 'one')}`, ['--name', 'first'])
    // The dependent's tests pass only where first.txt exists: on the builder too.
    const second = await rig.offer(`second\n\n${block('second.txt', 'two')}`, ['--name', 'second', '--after', 'first', '--test', 'test "$(cat first.txt)" = one'])
    expect((await rig.show(second.name)).ranOn).toBeNull()
    expect((await rig.show(first.name)).ranOn).toEqual({ kind: 'snapshot', commit: first.snapshot })
    await rig.waitFor(first.name, ['returned'])
    expect((await rig.show(second.name)).state).toBe('queued')
    const accepted = await rig.cli<{ acceptedCommit: string }>(['accept', first.name])
    const done = await rig.waitFor(second.name, ['returned'])
    expect(done.result?.passed).toBe(true)
    expect(done.ranOn).toEqual({ kind: 'after-accept', commit: done.snapshot })
    expect(done.snapshot).not.toBe(second.snapshot)
    // The snapshot descends from the accepted commit, and the result holds both changes.
    git(rig.repo, 'merge-base', '--is-ancestor', accepted.acceptedCommit, done.snapshot)
    expect(git(rig.repo, 'show', `${done.result!.commit}:first.txt`)).toBe('one')
    expect(git(rig.repo, 'diff', '--name-only', done.snapshot, done.result!.commit)).toBe('second.txt')
    const secondAccepted = await rig.cli<{ acceptedCommit: string }>(['accept', second.name])
    expect(git(rig.repo, 'rev-parse', `${secondAccepted.acceptedCommit}^`)).toBe(accepted.acceptedCommit)
    expect(git(rig.repo, 'show', 'HEAD:second.txt')).toBe('two')
  }, 90_000)

  it('stack: a dependent starts on the passing result before it is accepted, re-runs when it is rejected, and applies on top once it is accepted', async () => {
    rig = await JobRig.start()
    const x = await rig.offer(`x\n\n${block('x.txt', 'one')}`, ['--name', 'x'])
    await rig.offer(`y\n\n${block('y.txt', 'why')}`, ['--name', 'y', '--after', 'x', '--stack', '--test', 'test -f x.txt'])
    const xDone = await rig.waitFor(x.name, ['returned'])
    const y1 = await rig.waitFor('y', ['returned'])
    // y ran while x was still waiting for review, on x's result B.
    expect((await rig.show(x.name)).state).toBe('returned')
    expect(y1.ranOn).toEqual({ kind: 'stacked-on', commit: xDone.result!.commit, job: 'x', round: 1 })
    expect(y1.snapshot).toBe(xDone.result!.commit)
    expect(git(rig.repo, 'rev-parse', `${y1.result!.commit}^`)).toBe(xDone.result!.commit)
    expect(git(rig.repo, 'show', `${y1.result!.commit}:x.txt`)).toBe('one')
    expect(git(rig.repo, 'diff', '--name-only', y1.snapshot, y1.result!.commit)).toBe('y.txt')
    // Its change applies on a tree that holds x's: not before x is accepted.
    await expect(rig.cli(['merge', 'y'])).rejects.toThrow(/stacked on the result of x/)

    // x rejected with more to do: a new round of x, and y runs again on its next result.
    await rig.cli(['reject', x.name, '-m', `write x.txt as two\n\n${block('x.txt', 'two')}`])
    const requeued = await rig.show('y')
    expect(requeued.round).toBe(2)
    const xAgain = await rig.waitFor(x.name, ['returned'])
    expect(xAgain.round).toBe(2)
    const y2 = await rig.waitForView('y', view => view.round === 2 && view.state === 'returned', 'round 2 returned', 60_000)
    expect(y2.ranOn).toEqual({ kind: 'stacked-on', commit: xAgain.result!.commit, job: 'x', round: 2 })
    expect(git(rig.repo, 'show', `${y2.result!.commit}:x.txt`)).toBe('two')

    // x accepted: y's change (B_x → B_y) applies on top of it on HEAD.
    const xAccepted = await rig.cli<{ acceptedCommit: string }>(['accept', x.name])
    const yAccepted = await rig.cli<{ acceptedCommit: string, state: string }>(['accept', 'y'])
    expect(yAccepted.state).toBe('accepted')
    expect(git(rig.repo, 'rev-parse', `${yAccepted.acceptedCommit}^`)).toBe(xAccepted.acceptedCommit)
    expect(git(rig.repo, 'show', 'HEAD:x.txt')).toBe('two')
    expect(git(rig.repo, 'show', 'HEAD:y.txt')).toBe('why')
    expect(git(rig.repo, 'diff', '--name-only', 'HEAD^', 'HEAD')).toBe('y.txt')
  }, 120_000)

  it('stack: a dependent stacked on a result that is then rejected for good is blocked, not left on a dead base', async () => {
    rig = await JobRig.start()
    await rig.offer(`x\n\n${block('x.txt', 'one')}`, ['--name', 'x'])
    await rig.offer(`y\n\n${block('y.txt', 'why')}`, ['--name', 'y', '--after', 'x', '--stack'])
    await rig.waitFor('x', ['returned'])
    await rig.waitFor('y', ['returned'])
    await rig.cli(['reject', 'x'])
    const blocked = await rig.waitFor('y', ['failed'])
    expect(blocked.round).toBe(2)
    expect(blocked.reason).toContain('x was rejected')
  }, 90_000)
})

describe('fan-out keeps every builder running', () => {
  let rig: JobRig | undefined
  const scratch: string[] = []
  afterEach(async () => {
    await rig?.stop()
    rig = undefined
    for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  async function generators (): Promise<{ plain: string, wordy: string, release: string }> {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-gen-'))
    scratch.push(dir)
    const blocking = blockingGenerator(dir)
    // The second builder's generator writes one more file: the candidates differ in size.
    const wordy = `while [ ! -e '${blocking.release}' ]; do sleep 0.05; done; printf 'a\\nb\\n' > extra.txt; exec '${process.execPath}' '${CLI_PATH}' generate-blocks`
    return { plain: blocking.command, wordy, release: blocking.release }
  }

  it('every result is a candidate with its size and time, the first passing one proposed; --fanout-stop-first stops the rest', async () => {
    const gen = await generators()
    rig = await JobRig.start(['--generate', gen.plain])
    await rig.addBuilder(['--generate', gen.wordy])
    const job = await rig.offer(`two ways\n\n${block('out.txt', 'hello')}`, ['--name', 'two-ways', '--fanout', '2'])
    expect((await rig.show(job.name)).fanoutStop).toBe('none')
    await rig.waitForView(job.name, view => view.builder !== null && view.fanoutBuilders.length === 1, 'two builders running')
    await writeFile(gen.release, '')
    const both = await rig.waitForView(job.name, view => view.state === 'returned' && view.candidates.length === 2 && view.fanoutBuilders.length === 0, 'two candidates', 60_000)
    expect(both.candidates.every(c => c.passed)).toBe(true)
    expect(both.candidates.filter(c => c.proposed)).toHaveLength(1)
    expect(both.candidates.find(c => c.proposed)!.commit).toBe(both.result!.commit)
    expect(both.candidates.map(c => [c.files, c.added, c.removed]).sort()).toEqual([[1, 1, 0], [2, 3, 0]])
    for (const c of both.candidates) expect(c.ms).toBeGreaterThan(0)
    // Each candidate is a result to review: diff, merge and accept any of them by number.
    const other = both.candidates.find(c => !c.proposed)!
    expect(git(rig.repo, 'show', `refs/gitmesh/candidates/${job.name}/${other.number}:out.txt`)).toBe('hello')

    // Stopping at the first pass is an option.
    await rm(gen.release)
    const first = await rig.offer(`first wins\n\n${block('first.txt', 'hi')}`, ['--name', 'first-wins', '--fanout', '2', '--fanout-stop-first'])
    expect((await rig.show(first.name)).fanoutStop).toBe('first-pass')
    await rig.waitForView(first.name, view => view.builder !== null && view.fanoutBuilders.length === 1, 'two builders running')
    await writeFile(gen.release, '')
    const returned = await rig.waitFor(first.name, ['returned'], 60_000)
    // The other builder was told to stop with the result, in the same write: none is left running.
    expect(returned.fanoutBuilders).toEqual([])
    expect(returned.result?.passed).toBe(true)
  }, 150_000)
})
