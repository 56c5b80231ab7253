import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { callDaemon } from '../daemon/control-client.js'
import { runGit } from '../git/git-process.js'
import { createWorktree, removeWorktree } from '../builder/worktree.js'
import { CLI_PATH, runCliJson, startDaemon, type DaemonProcess } from '../demo/processes.js'
import { median, timed } from './stats.js'
import type { JobView } from '../daemon/views.js'

export interface JobLatency {
  jobs: number
  /** offer request sent → generator process started, median ms. */
  offerToGeneratorMs: number
  /** builder committed B → B stored and its ref set at the author, median ms. */
  resultVisibleMs: number
}

/**
 * Offer → generator started, and result committed → visible at the author, each as a median over
 * `jobs` one-file-change jobs on a warm builder (it fetched the repository's previous snapshot).
 * The generator records the time it starts (same machine, same clock as the offer), then runs
 * the built-in generator; the test command is `true`.
 */
export async function measureJobLatency (author: DaemonProcess, repo: string, jobs: number, files: string[]): Promise<JobLatency> {
  const work = await mkdtemp(path.join(tmpdir(), 'gitmesh-bench-jobs-'))
  const stamps = path.join(work, 'started')
  const builderHome = path.join(work, 'builder')
  let builder: DaemonProcess | undefined
  try {
    await runCliJson(builderHome, ['init'])
    // GNU date prints milliseconds without starting a second Node.js (whose start-up would count).
    const generate = `date +%s%3N >> '${stamps}' && exec '${process.execPath}' '${CLI_PATH}' generate-blocks`
    builder = await startDaemon(builderHome, ['--builder', '--slots', '1', '--generate', generate])
    await runCliJson(author.home, ['trust', builder.peerId, '--role', 'builder', '--addr', builder.addrs[0]!])
    await runCliJson(builderHome, ['trust', author.peerId, '--role', 'author', '--addr', author.addrs[0]!])
    const socket = path.join(author.home, 'control.sock')
    const offerToGenerator: number[] = []
    const visible: number[] = []
    // One warm-up job brings the repository to the builder; it is not counted.
    for (let i = -1; i < jobs; i++) {
      await appendFile(path.join(repo, files[(i + 7) * 131 % files.length]!), `// job ${i}\n`)
      const prompt = `bench job ${i}\n\n\`\`\`txt path=bench/out-${i}.txt\njob ${i}\n\`\`\`\n`
      const before = (await readFile(stamps, 'utf8').catch(() => '')).split('\n').filter(Boolean).length
      const offeredAt = Date.now()
      const job = await callDaemon<JobView>(socket, author.home, 'offer', { repo, prompt, test: 'true', attempts: 1, name: `bench-${i + 1}-${Date.now().toString(36)}` })
      const done = await waitForState(socket, author.home, job.id, ['returned', 'failed'])
      if (done.result === null) throw new Error(`bench job ${job.name} failed`)
      const lines = (await readFile(stamps, 'utf8')).split('\n').filter(Boolean)
      if (i >= 0) {
        offerToGenerator.push(Number(lines[before]) - offeredAt)
        visible.push(done.result.receivedAt - done.result.committedAt)
      }
    }
    return { jobs, offerToGeneratorMs: median(offerToGenerator), resultVisibleMs: median(visible) }
  } finally {
    await builder?.stop()
    await rm(work, { recursive: true, force: true })
  }
}

async function waitForState (socket: string, home: string, id: string, states: string[]): Promise<JobView> {
  const stop = new AbortController()
  return await new Promise<JobView>((resolve, reject) => {
    const check = (job: JobView): void => {
      if (job.id === id && states.includes(job.state)) {
        stop.abort()
        resolve(job)
      }
    }
    callDaemon(socket, home, 'watch', {}, { signal: stop.signal, onEvent: event => { check(event.job as JobView) } }).catch(err => { if (!stop.signal.aborted) reject(err) })
    callDaemon<JobView>(socket, home, 'show', { job: id }).then(check, reject)
  })
}

export interface WorktreeFigures {
  files: number
  gitmeshMs: number
  gitMs: number
}

/** gitmesh's worktree creation (parallel checkout) vs `git worktree add`, alternately, medians. */
export async function measureWorktree (repo: string, commit: string, runs: number, files: number): Promise<WorktreeFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'gitmesh-bench-worktree-'))
  try {
    const ours: number[] = []
    const theirs: number[] = []
    for (let i = 0; i < runs; i++) {
      const mine = path.join(work, `ours-${i}`)
      ours.push((await timed(async () => { await createWorktree(repo, mine, commit) })).ms)
      await removeWorktree(repo, mine)
      const plain = path.join(work, `git-${i}`)
      theirs.push((await timed(async () => { await runGit(['worktree', 'add', '--detach', '-q', plain, commit], { cwd: repo }) })).ms)
      await removeWorktree(repo, plain)
    }
    return { files, gitmeshMs: median(ours), gitMs: median(theirs) }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
