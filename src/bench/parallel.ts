import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { callDaemon } from '../daemon/control-client.js'
import { runCliJson, startDaemon, type DaemonProcess } from '../demo/processes.js'
import { makeSampleProject } from '../demo/sample-project.js'
import { median, timed } from './stats.js'
import type { JobView } from '../daemon/views.js'

export interface ParallelFigures {
  jobs: number
  builders: number
  slotsEach: number
  sleepMs: number
  ms: number
  idealMs: number
  efficiency: number
}

export interface PlacementFigures {
  emptyQueueMs: number
  fullQueueMs: number
  queued: number
}

const ENDED = new Set(['returned', 'failed', 'cancelled'])

async function startAuthor (root: string): Promise<DaemonProcess> {
  const home = path.join(root, 'author')
  await runCliJson(home, ['init'])
  return await startDaemon(home)
}

/**
 * Parallel efficiency: `jobs` jobs whose generator sleeps `sleepMs` then writes a file, on
 * `builders` builders of `slotsEach` slots, against the ideal of (jobs ÷ total slots) × sleep.
 * The clock runs from the first offer to the last result at the author.
 */
export async function measureParallel (jobs = 24, builders = 3, slotsEach = 2, sleepMs = 2000): Promise<ParallelFigures> {
  const root = await mkdtemp(path.join(tmpdir(), 'gitmesh-bench-parallel-'))
  const daemons: DaemonProcess[] = []
  try {
    const author = await startAuthor(root)
    daemons.push(author)
    // The generator sleeps, then writes one file of its own: the figure is about scheduling, so
    // no interpreter start-up is counted as the generator's work.
    const generate = `sleep ${sleepMs / 1000} && mkdir -p out && printf '%s\\n' "$GITMESH_JOB_NAME" > "out/$GITMESH_JOB_ID.txt"`
    for (let i = 0; i < builders; i++) {
      const home = path.join(root, `builder-${i}`)
      await runCliJson(home, ['init'])
      const builder = await startDaemon(home, ['--builder', '--slots', String(slotsEach), '--generate', generate])
      daemons.push(builder)
      await runCliJson(author.home, ['trust', builder.peerId, '--role', 'builder', '--addr', builder.addrs[0]!])
      await runCliJson(home, ['trust', author.peerId, '--role', 'author', '--addr', author.addrs[0]!])
    }
    const repo = path.join(root, 'project')
    await makeSampleProject(repo)
    const socket = path.join(author.home, 'control.sock')
    const ended = new Set<string>()
    const watching = new AbortController()
    const allDone = new Promise<void>(resolve => {
      void callDaemon(socket, author.home, 'watch', {}, {
        signal: watching.signal,
        onEvent: event => {
          const job = event.job as JobView
          if (ENDED.has(job.state)) ended.add(job.id)
          if (ended.size === jobs) resolve()
        }
      }).catch(() => {})
    })
    const { ms } = await timed(async () => {
      await Promise.all(Array.from({ length: jobs }, async (_, i) => await callDaemon(socket, author.home, 'offer', {
        repo, name: `parallel-${i}`, test: 'true', attempts: 1, prompt: `job ${i}\n\n\`\`\`txt path=out/${i}.txt\n${i}\n\`\`\`\n`
      })))
      await allDone
    })
    watching.abort()
    const idealMs = Math.ceil(jobs / (builders * slotsEach)) * sleepMs
    return { jobs, builders, slotsEach, sleepMs, ms, idealMs, efficiency: idealMs / ms }
  } finally {
    await Promise.all(daemons.map(async d => await d.stop()))
    await rm(root, { recursive: true, force: true })
  }
}

/**
 * The cost of placement: how long an offer takes with no queue, and with `queued` jobs waiting
 * (no builder is trusted, so every job stays queued and each offer's scheduling pass sees them all).
 */
export async function measurePlacement (queued = 200, samples = 15): Promise<PlacementFigures> {
  const root = await mkdtemp(path.join(tmpdir(), 'gitmesh-bench-placement-'))
  let author: DaemonProcess | undefined
  try {
    author = await startAuthor(root)
    const repo = path.join(root, 'project')
    await makeSampleProject(repo)
    const socket = path.join(author.home, 'control.sock')
    let n = 0
    const offer = async (): Promise<{ ms: number, job: JobView }> => {
      const { ms, value } = await timed(async () => await callDaemon<JobView>(socket, author!.home, 'offer', { repo, name: `placement-${n++}`, test: 'true', prompt: 'a placement probe' }))
      return { ms, job: value }
    }
    const empty: number[] = []
    for (let i = 0; i < samples; i++) {
      const { ms, job } = await offer()
      empty.push(ms)
      await callDaemon(socket, author.home, 'cancel', { job: job.id })
    }
    for (let i = 0; i < queued; i++) await offer()
    const full: number[] = []
    for (let i = 0; i < samples; i++) full.push((await offer()).ms)
    return { emptyQueueMs: median(empty), fullQueueMs: median(full), queued }
  } finally {
    await author?.stop()
    await rm(root, { recursive: true, force: true })
  }
}
