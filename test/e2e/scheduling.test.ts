import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_PATH, runCli } from '../../src/demo/processes.js'
import { blockingGenerator, git, JobRig, type JobView } from '../helpers/job-rig.js'

const block = (file: string, content: string): string => `\`\`\`txt path=${file}\n${content}\n\`\`\`\n`

interface BuilderView { peerId: string, slots: number | null, running: number | null, queued: number | null }

describe('parallel work across builders', () => {
  let rig: JobRig | undefined
  const scratch: string[] = []
  afterEach(async () => {
    await rig?.stop()
    rig = undefined
    for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  async function generatorDir (): Promise<ReturnType<typeof blockingGenerator>> {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-gen-'))
    scratch.push(dir)
    return blockingGenerator(dir)
  }

  it('places jobs on three builders with different slot counts, never past their slots, all busy while work waits', async () => {
    const generator = await generatorDir()
    rig = await JobRig.start(['--slots', '1', '--generate', generator.command])
    await rig.addBuilder(['--slots', '2', '--generate', generator.command])
    await rig.addBuilder(['--slots', '3', '--generate', generator.command])
    const jobs: JobView[] = []
    for (let i = 0; i < 8; i++) jobs.push(await rig.offer(`job ${i}\n\n${block(`out/${i}.txt`, String(i))}`, ['--name', `job-${i}`]))
    // 6 slots in all: 6 run, 2 wait (as queued here or in a builder's small queue)
    await rig.waitForJobs(all => all.filter(job => job.state === 'generating').length === 6, '6 generating')
    const all = await rig.cli<JobView[]>(['jobs'])
    const perBuilder = new Map<string, number>()
    for (const job of all.filter(j => j.state === 'generating')) perBuilder.set(job.builder!, (perBuilder.get(job.builder!) ?? 0) + 1)
    const peers = await rig.cli<Array<{ peerId: string, slots?: number | null }>>(['peers'])
    for (const [builder, count] of perBuilder) {
      const slots = peers.find(p => p.peerId === builder)?.slots
      expect(slots).not.toBeNull()
      expect(count).toBeLessThanOrEqual(slots!)
    }
    const builders = await rig.cli<BuilderView[]>(['peers'])
    expect(builders.filter(b => b.slots !== undefined).map(b => b.slots).sort()).toEqual([1, 2, 3])
    // For scripts, each job carries its builder's load and how long it has taken.
    for (const job of all.filter(j => j.state === 'generating')) {
      expect(job.builderLoad?.slots).toBe(builders.find(b => b.peerId === job.builder)?.slots)
      // As last advertised: at the latest in its reply to this job's offer, which counted it.
      expect(job.builderLoad!.running + job.builderLoad!.queued).toBeGreaterThanOrEqual(1)
      expect(job.elapsedMs).toBeGreaterThan(0)
    }
    await writeFile(generator.release, '')
    for (const job of jobs) expect((await rig.waitFor(job.name, ['returned'], 60_000)).result?.passed).toBe(true)
  }, 120_000)

  it('keeps dependency order, blocks the dependents of a failed job for good, and refuses a cycle', async () => {
    rig = await JobRig.start()
    const second = await rig.offer(`second\n\n${block('second.txt', 'two')}`, ['--name', 'second', '--after', 'first'])
    expect((await rig.show(second.name)).blockedBy?.reason).toContain('first')
    const first = await rig.offer(`first\n\n${block('first.txt', 'one')}`, ['--name', 'first'])
    await rig.waitFor(first.name, ['returned'])
    expect((await rig.show(second.name)).state).toBe('queued')
    await rig.cli(['accept', first.name])
    const done = await rig.waitFor(second.name, ['returned'])
    expect(done.result?.passed).toBe(true)
    // the second job runs on a snapshot taken once the first was accepted (test/e2e/stacking.test.ts
    // follows that further): its result changes only its own file
    expect(git(rig.repo, 'diff', '--name-only', done.snapshot, done.result!.commit)).toBe('second.txt')

    const doomed = await rig.offer(`doomed\n\n${block('d.txt', 'd')}`, ['--name', 'doomed'])
    const dependent = await rig.offer(`dependent\n\n${block('e.txt', 'e')}`, ['--name', 'dependent', '--after', 'doomed'])
    await rig.waitFor(doomed.name, ['returned'])
    await rig.cli(['reject', doomed.name])
    const blocked = await rig.waitFor(dependent.name, ['failed'])
    expect(blocked.blockedBy).toMatchObject({ job: 'doomed' })
    expect(blocked.reason).toContain('rejected')

    await rig.offer(`x\n\n${block('x.txt', 'x')}`, ['--name', 'cycle-x', '--after', 'cycle-y'])
    const refused = await runCli(rig.authorHome, ['offer', '--repo', rig.repo, '--name', 'cycle-y', '--after', 'cycle-x', '-m', `y\n\n${block('y.txt', 'y')}`])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('cycle')
  }, 120_000)

  it('marks a result that changes paths outside its owns; accept needs --force', async () => {
    rig = await JobRig.start()
    const job = await rig.offer(`stray\n\n${block('src/ok.txt', 'fine')}${block('elsewhere.txt', 'stray')}`, ['--name', 'stray', '--owns', 'src/**'])
    const returned = await rig.waitFor(job.name, ['returned'])
    expect(returned.outsideOwns).toEqual(['elsewhere.txt'])
    const refused = await runCli(rig.authorHome, ['accept', job.name])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('--force')
    const accepted = await rig.cli<JobView>(['accept', job.name, '--force'])
    expect(accepted.state).toBe('accepted')
  }, 90_000)

  it('fans a job out to two builders: every result is a candidate, and the first passing one is proposed', async () => {
    const slow = await generatorDir()
    rig = await JobRig.start(['--generate', slow.command])
    // the second builder's generator always breaks the tests, and fast
    const failing = await rig.addBuilder(['--generate', 'echo broken > fail.txt'])
    const job = await rig.offer(`twice\n\n${block('twice.txt', 'two')}`, ['--name', 'twice', '--fanout', '2', '--attempts', '1'])
    // the failing result arrives first: kept as candidate #1, the job still runs on the other builder
    const view = await rig.waitForView(job.name, view => view.candidates.length > 0, 'a candidate')
    expect(view.candidates).toEqual([expect.objectContaining({ number: 1, passed: false, builder: failing.peerId })])
    expect(view.state).not.toBe('returned')
    await writeFile(slow.release, '')
    const returned = await rig.waitFor(job.name, ['returned'], 60_000)
    expect(returned.result).toMatchObject({ passed: true, builder: rig.builder.peerId })
    expect(returned.candidates.map(c => c.number)).toEqual([1, 2])
    const first = await runCli(rig.authorHome, ['diff', `${job.name}#1`])
    expect(first.stdout).toContain('+broken')
  }, 120_000)

  it('a builder killed with kill -9 loses its job to another builder; its late result is still kept as a candidate', async () => {
    const slow = await generatorDir()
    rig = await JobRig.start(['--generate', slow.command])
    const job = await rig.offer(`survive\n\n${block('survive.txt', 'ok')}`, ['--name', 'survive'])
    await rig.waitFor(job.name, ['generating'])
    const first = rig.builder.peerId
    const firstListen = rig.builder.addrs[0]!.replace(/\/p2p\/.*$/, '')
    await rig.builder.kill()
    // the author notices the builder is gone: the job is lost there, waiting for another
    await rig.waitFor(job.name, ['lost', 'queued'])
    // a second builder, with the built-in generator, takes it over and finishes it
    const second = await rig.addBuilder([])
    const returned = await rig.waitFor(job.name, ['returned'], 60_000)
    expect(returned.result?.builder).toBe(second.peerId)
    // the first builder comes back; its job runs again, and its result is kept as a candidate
    const { startDaemon } = await import('../../src/demo/processes.js')
    rig.builder = await startDaemon(rig.builderHome, ['--builder', '--generate', slow.command], firstListen)
    await writeFile(slow.release, '')
    const { candidates } = await rig.waitForView(job.name, view => view.candidates.some(c => c.builder === first), 'a candidate from the first builder', 60_000)
    expect(candidates.map(c => c.builder)).toContain(first)
    expect((await rig.show(job.name)).result?.builder).toBe(second.peerId)
  }, 150_000)
})

describe('several authors sharing a builder', () => {
  let rig: JobRig | undefined
  const scratch: string[] = []
  afterEach(async () => {
    await rig?.stop()
    rig = undefined
    for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('serves them in turn: a second author\'s job runs before the first author\'s queued ones', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-gen-'))
    scratch.push(dir)
    // each job's generator waits for its own release file, named after the job
    const generator = `while [ ! -e '${dir}/release-'"$GITMESH_JOB_NAME" ]; do sleep 0.05; done; echo "$GITMESH_JOB_NAME" >> '${dir}/order'; exec '${process.execPath}' '${CLI_PATH}' generate-blocks`
    rig = await JobRig.start(['--slots', '1', '--generate', generator])
    // a second author, with its own repository
    const { runCliJson, startDaemon } = await import('../../src/demo/processes.js')
    const otherHome = path.join(rig.root, 'author-2')
    await runCliJson(otherHome, ['init'])
    const other = await startDaemon(otherHome)
    rig.extra.push(other)
    await runCliJson(otherHome, ['trust', rig.builder.peerId, '--role', 'builder', '--addr', rig.builder.addrs[0]!])
    await runCliJson(rig.builderHome, ['trust', other.peerId, '--role', 'author', '--addr', other.addrs[0]!])

    for (const name of ['a-one', 'a-two', 'a-three']) await rig.offer(`${name}\n\n${block(`${name}.txt`, name)}`, ['--name', name])
    await rig.waitFor('a-one', ['generating'])
    const b = await runCliJson<JobView>(otherHome, ['offer', '--repo', rig.repo, '--name', 'b-one', '-m', `b\n\n${block('b.txt', 'b')}`])
    // wait until the builder holds b-one in its queue, then let the running job finish
    await rig.waitForView(b.name, view => view.state !== 'queued', 'placed', 30_000, otherHome)
    for (const name of ['a-one', 'a-two', 'a-three', 'b-one']) await writeFile(path.join(dir, `release-${name}`), '')
    await rig.waitFor('a-three', ['returned'], 60_000)
    const order = (await readFile(path.join(dir, 'order'), 'utf8')).trim().split('\n')
    expect(order[0]).toBe('a-one')
    // after a-one, the builder turns to the other author before a-two and a-three
    expect(order[1]).toBe('b-one')
  }, 120_000)
})
