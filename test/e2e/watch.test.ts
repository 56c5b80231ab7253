import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_PATH } from '../../src/demo/processes.js'
import { blockingGenerator, JobRig, waitUntil } from '../helpers/job-rig.js'

interface WatchEvent { event: string, file?: string, job?: string, round?: number, message?: string }

/** `gitmesh watch --json` as a process, with every event it printed. */
function startWatch (home: string, repo: string): { events: WatchEvent[], child: ChildProcess, stop: () => Promise<void> } {
  const child = spawn(process.execPath, [CLI_PATH, 'watch', '--repo', repo, '--json'], { env: { ...process.env, GITMESH_HOME: home, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  const events: WatchEvent[] = []
  createInterface({ input: child.stdout! }).on('line', line => { try { events.push(JSON.parse(line) as WatchEvent) } catch { /* not an event line */ } })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  return { events, child, stop: async () => { child.kill('SIGINT'); await exited } }
}


describe('gitmesh watch: prompt files offered as they are saved', () => {
  let rig: JobRig | undefined
  let watch: ReturnType<typeof startWatch> | undefined
  const scratch: string[] = []
  afterEach(async () => {
    await watch?.stop()
    watch = undefined
    await rig?.stop()
    rig = undefined
    for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('offers saved files, re-offers a re-saved one as the next round, and reports broken front matter with its line while the others keep working', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-gen-'))
    scratch.push(dir)
    const generator = blockingGenerator(dir)
    rig = await JobRig.start(['--generate', generator.command])
    const prompts = path.join(rig.repo, '.gitmesh', 'prompts')
    await mkdir(prompts, { recursive: true })
    watch = startWatch(rig.authorHome, rig.repo)
    await waitUntil(() => watch!.events.some(e => e.event === 'watching'))

    await writeFile(path.join(prompts, 'greeting.md'), '---\npriority: 3\n---\nwrite a greeting\n\n```txt path=greet.txt\nhello world\n```\n')
    await waitUntil(() => watch!.events.some(e => e.event === 'offered' && e.job === 'greeting'))
    await rig.waitFor('greeting', ['generating'])

    // broken front matter: an error naming the file and the line; nothing offered for it
    await writeFile(path.join(prompts, 'broken.md'), '---\nname: broken\npriority: high\n---\nbroken\n')
    await waitUntil(() => watch!.events.some(e => e.event === 'error' && e.file?.endsWith('broken.md') === true))
    const error = watch.events.find(e => e.event === 'error')!
    expect(error.message).toContain('broken.md:3')
    expect(error.message).toContain('priority')

    // saving the running task again cancels its round and offers the new version as round 2
    await writeFile(path.join(prompts, 'greeting.md'), '---\npriority: 3\n---\nwrite a greeting, version two\n\n```txt path=greet.txt\nhello world\n```\n')
    await waitUntil(() => watch!.events.some(e => e.event === 're-offered' && e.job === 'greeting' && e.round === 2))
    await writeFile(generator.release, '')
    const done = await rig.waitFor('greeting', ['returned'], 60_000)
    expect(done.round).toBe(2)
    expect(done.prompt).toContain('version two')

    // another file still works after the broken one
    await writeFile(path.join(prompts, 'second.md'), 'write another\n\n```txt path=second.txt\nhello world\n```\n')
    await waitUntil(() => watch!.events.some(e => e.event === 'offered' && e.job === 'second'))
    expect((await rig.waitFor('second', ['returned'], 60_000)).result?.passed).toBe(true)

    // a restarted watcher offers nothing again: every job already has its file's version
    await watch.stop()
    watch = startWatch(rig.authorHome, rig.repo)
    await waitUntil(() => watch!.events.some(e => e.event === 'watching'))
    expect(watch.events.filter(e => e.event === 'unchanged').map(e => e.job).sort()).toEqual(['greeting', 'second'])
    expect(watch.events.some(e => e.event === 'offered' || e.event === 're-offered')).toBe(false)
    expect((await rig.show('greeting')).round).toBe(2)
  }, 120_000)
})
