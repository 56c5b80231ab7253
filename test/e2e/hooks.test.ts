import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { git, JobRig, waitUntil, type JobView } from '../helpers/job-rig.js'

/** A prompt for the built-in generator: write `file` with exactly `content`. */
function writes (what: string, file: string, content: string): string {
  return `${what}\n\n\`\`\`txt path=${file}\n${content}\`\`\`\n`
}

const NOTES = 'line one\nline two\nline three\n'

describe('knowing when to look: hooks and desktop notifications on the author daemon', () => {
  let rig: JobRig
  let events: string
  let calls: string
  let dir: string
  const originalPath = process.env.PATH

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-hooks-'))
    events = path.join(dir, 'events')
    await mkdir(events)
    // A stand-in notify-send on the daemon's PATH: one line per call, its arguments tab-separated.
    const bin = path.join(dir, 'bin')
    await mkdir(bin)
    calls = path.join(dir, 'notify-send.calls')
    await writeFile(path.join(bin, 'notify-send'), `#!/bin/sh\nprintf '%s\\t' "$@" >> '${calls}'\necho >> '${calls}'\n`)
    await chmod(path.join(bin, 'notify-send'), 0o755)
    process.env.PATH = `${bin}${path.delimiter}${originalPath ?? ''}`
    // The first hook fails (its failure is reported, the second still runs); the second records
    // what it was given: stdin, the variables and the folder it ran in.
    const record = `cat > '${events}'/"$GITMESH_JOB_NAME-$GITMESH_EVENT.json" && printf '%s %s %s %s' "$GITMESH_EVENT" "$GITMESH_JOB_ID" "$GITMESH_JOB_NAME" "$PWD" > '${events}'/"$GITMESH_JOB_NAME-$GITMESH_EVENT.env"`
    rig = await JobRig.start([], { authorArgs: ['--on-event', 'echo broken hook >&2; exit 3', '--on-event', record] })
  }, 60_000)

  afterAll(async () => {
    process.env.PATH = originalPath
    await rig?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const recorded = (job: string, event: string): string => path.join(events, `${job}-${event}.json`)
  /** The hook's variables file: written after its stdin was, so its presence means the hook ran. */
  const ran = (job: string, event: string): boolean => existsSync(path.join(events, `${job}-${event}.env`))
  const notifyCalls = async (): Promise<string[]> => existsSync(calls) ? (await readFile(calls, 'utf8')).split('\n').filter(line => line !== '') : []

  it('runs every hook in order with the job\'s JSON on stdin when a result returns, and raises one notification', async () => {
    const job = await rig.offer(writes('greet the world', 'greet.txt', 'hello world\n'), ['--name', 'greeting'])
    await rig.waitFor(job.name, ['returned'])
    await waitUntil(() => ran('greeting', 'returned'), 15_000, 'the recording hook ran')
    const view = JSON.parse(await readFile(recorded('greeting', 'returned'), 'utf8')) as JobView & { event: string }
    expect(view).toMatchObject({ event: 'returned', name: 'greeting', id: job.id, state: 'returned' })
    expect(view.result?.passed).toBe(true)
    const env = await readFile(path.join(events, 'greeting-returned.env'), 'utf8')
    expect(env).toBe(`returned ${job.id} greeting ${rig.repo}`)
    // The failing hook ran first and was reported on the daemon's stderr; the daemon goes on.
    await waitUntil(() => rig.author.stderr().includes('hook `echo broken hook >&2; exit 3` for returned of greeting: exited 3: broken hook'), 5_000, 'the failed hook reported')
    const notified = await notifyCalls()
    expect(notified).toHaveLength(1)
    expect(notified[0]).toContain('greeting')
    expect(notified[0]!.split('\t').slice(0, 2)).toEqual(['--app-name=gitmesh', '--'])
    // The stdout notice is still there.
    expect(rig.author.lines.some(line => line.includes('"event":"result"') && line.includes('"job":"greeting"'))).toBe(true)
  })

  it('runs the hooks when a job fails and when a merge leaves conflicts, once each', async () => {
    const doomed = await rig.offer(writes('doomed', 'doomed.txt', 'd\n'), ['--name', 'doomed'])
    const dependent = await rig.offer(writes('dependent', 'dependent.txt', 'e\n'), ['--name', 'dependent', '--after', 'doomed'])
    await rig.waitFor(doomed.name, ['returned'])
    await rig.cli(['reject', doomed.name])
    await rig.waitFor(dependent.name, ['failed'])
    await waitUntil(() => ran('dependent', 'failed'), 15_000, 'the failed hook ran')
    expect(JSON.parse(await readFile(recorded('dependent', 'failed'), 'utf8'))).toMatchObject({ event: 'failed', name: 'dependent', state: 'failed' })

    await writeFile(path.join(rig.repo, 'notes.txt'), NOTES)
    git(rig.repo, 'add', 'notes.txt')
    const job = await rig.offer(writes('reword line two', 'notes.txt', 'line one\nline two, by the job\nline three\n'), ['--name', 'reword'])
    await rig.waitFor(job.name, ['returned'])
    await writeFile(path.join(rig.repo, 'notes.txt'), 'line one\nline two, by me\nline three\n')
    const merged = await rig.cli<JobView>(['merge', job.name])
    expect(merged.merge?.conflicts).toEqual(['notes.txt'])
    await waitUntil(() => ran('reword', 'conflicts'), 15_000, 'the conflicts hook ran')
    const view = JSON.parse(await readFile(recorded('reword', 'conflicts'), 'utf8')) as JobView & { event: string }
    expect(view).toMatchObject({ event: 'conflicts', name: 'reword', state: 'merged' })
    expect(view.merge?.conflicts).toEqual(['notes.txt'])
    // greeting, doomed and reword returned, dependent failed, reword conflicted: one notification each.
    const notified = await notifyCalls()
    expect(notified).toHaveLength(5)
    expect(notified.filter(line => line.includes('reword')).length).toBe(2)
    await rig.cli(['reject', job.name])
  }, 60_000)

  it('raises no notification with --no-notify, and still runs the hooks', async () => {
    rig.authorArgs = rig.authorArgs.concat('--no-notify')
    await rig.restart('author')
    const before = (await notifyCalls()).length
    const job = await rig.offer(writes('quiet', 'quiet.txt', 'q\n'), ['--name', 'quiet'])
    await rig.waitFor(job.name, ['returned'])
    // The notification would have been raised before the hooks of the same event ran.
    await waitUntil(() => ran('quiet', 'returned'), 15_000, 'the recording hook ran')
    expect(await notifyCalls()).toHaveLength(before)
  }, 60_000)
})
