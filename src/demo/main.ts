import '../polyfill.js'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pc from 'picocolors'
import { callDaemon } from '../daemon/control-client.js'
import { runGit } from '../git/git-process.js'
import { CLI_PATH, runCliJson, startDaemon, type DaemonProcess } from './processes.js'
import { makeSampleProject, SAMPLE_PROMPTS } from './sample-project.js'
import type { JobView } from '../daemon/views.js'

const ENDED = new Set(['returned', 'merged', 'accepted', 'rejected', 'failed', 'cancelled'])

/**
 * `npm run demo`: the whole job flow on loopback, through the `gitmesh` command as a user runs it.
 * An author and two builders in temporary homes trust each other; three prompts are offered at
 * once against a small project with tests; the built-in generator writes the code; one prompt's
 * first attempt fails its tests and the second passes through the appended test output; the
 * results come back, one is merged and accepted, and a summary is printed. One job's live log
 * (its builder's generator and test output, as written) is followed with `gitmesh logs -f`.
 */
async function main (): Promise<void> {
  const started = Date.now()
  const root = await mkdtemp(path.join(tmpdir(), 'gitmesh-demo-'))
  const daemons: DaemonProcess[] = []
  const step = (text: string): void => { process.stdout.write(`${pc.cyan('›')} ${text}\n`) }
  const short = (peer: string | null): string => peer === null ? '-' : `…${peer.slice(-6)}`
  try {
    step('an author and two builders, each in its own temporary home')
    const homes = { author: path.join(root, 'author'), b1: path.join(root, 'builder-1'), b2: path.join(root, 'builder-2') }
    await Promise.all(Object.values(homes).map(async home => await runCliJson(home, ['init'])))
    const [author, builder1, builder2] = await Promise.all([
      startDaemon(homes.author),
      startDaemon(homes.b1, ['--builder', '--slots', '1']),
      startDaemon(homes.b2, ['--builder', '--slots', '1'])
    ])
    daemons.push(author!, builder1!, builder2!)
    const names = new Map([[builder1!.peerId, 'builder-1'], [builder2!.peerId, 'builder-2']])
    for (const [builder, home] of [[builder1!, homes.b1], [builder2!, homes.b2]] as const) {
      await runCliJson(homes.author, ['trust', builder.peerId, '--role', 'builder', '--addr', builder.addrs[0]!])
      await runCliJson(home, ['trust', author!.peerId, '--role', 'author', '--addr', author!.addrs[0]!])
    }
    process.stdout.write(`  author    ${author!.peerId}\n  builder-1 ${builder1!.peerId}\n  builder-2 ${builder2!.peerId}\n`)

    step('a small project with tests (node test.js), and three prompts offered at once')
    const repo = path.join(root, 'project')
    await makeSampleProject(repo)
    const socket = path.join(homes.author, 'control.sock')
    const seen = new Map<string, string>()
    const watching = new AbortController()
    const allEnded = new Promise<void>(resolve => {
      const ids = new Set<string>()
      const onJob = (job: JobView): void => {
        const line = `${job.state}${job.attempt > 0 ? ` attempt ${job.attempt}/${job.attemptsBudget}` : ''}${job.builder !== null ? ` on ${names.get(job.builder) ?? short(job.builder)}` : ''}`
        if (seen.get(job.id) !== line) {
          seen.set(job.id, line)
          process.stdout.write(`  ${pc.dim(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`)} ${job.name.padEnd(26)} ${line}\n`)
        }
        ids.add(job.id)
        if ([...ids].length === SAMPLE_PROMPTS.length && [...ids].every(id => ENDED.has(latest.get(id)?.state ?? ''))) resolve()
      }
      const latest = new Map<string, JobView>()
      void callDaemon(socket, homes.author, 'watch', {}, {
        signal: watching.signal,
        onEvent: event => {
          const job = event.job as JobView
          latest.set(job.id, job)
          onJob(job)
        }
      }).catch(() => {})
    })
    const offered = await Promise.all(SAMPLE_PROMPTS.map(async prompt => await runCliJson<JobView>(homes.author, ['offer', '--repo', repo, '-m', prompt])))
    step(`offered ${offered.map(job => pc.bold(job.name)).join(', ')}`)

    // The live log of the job whose first attempt fails: `gitmesh logs -f` prints its builder's
    // output as it is written, and ends when the job does.
    const followed = offered.find(job => job.name.includes('slug')) ?? offered[0]!
    step(`following the live log of ${pc.bold(followed.name)}: gitmesh logs ${followed.name} -f`)
    const follower = spawn(process.execPath, [CLI_PATH, 'logs', followed.name, '-f'], { env: { ...process.env, GITMESH_HOME: homes.author, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'inherit'] })
    createInterface({ input: follower.stdout }).on('line', line => {
      process.stdout.write(`  ${pc.dim(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`)} ${pc.dim(`${followed.name} │`)} ${line}\n`)
    })
    const followerDone = new Promise<number | null>(resolve => follower.once('exit', code => { resolve(code) }))

    await allEnded
    if (await followerDone !== 0) throw new Error(`gitmesh logs ${followed.name} -f did not end cleanly`)
    watching.abort()
    const jobs = await Promise.all(offered.map(async job => await runCliJson<JobView>(homes.author, ['show', job.name])))

    const email = jobs.find(job => job.name.includes('email')) ?? jobs[0]!
    step(`review ${pc.bold(email.name)}: merge it into the working tree (tests run there), then accept it`)
    const merged = await runCliJson<JobView>(homes.author, ['merge', email.name])
    process.stdout.write(`  merged: ${merged.merge?.conflicts.length ?? 0} conflicts, tests ${merged.merge?.testPassed === true ? 'pass' : 'fail'}\n`)
    const accepted = await runCliJson<JobView>(homes.author, ['accept', email.name])
    const log = (await runGit(['log', '--oneline', '-2'], { cwd: repo })).stdout.toString('utf8').trim()
    process.stdout.write(`  accepted as ${accepted.acceptedCommit?.slice(0, 10)}\n${log.split('\n').map(line => `    ${line}`).join('\n')}\n`)

    process.stdout.write(`\n${pc.bold('summary')}\n`)
    for (const job of jobs) {
      const attempts = job.attempts.map(a => a.passed ? pc.green('pass') : pc.red('fail')).join(' → ')
      const final = job.id === email.id ? 'accepted' : job.state
      process.stdout.write(`  ${job.name.padEnd(26)} ${final.padEnd(9)} on ${(names.get(job.result?.builder ?? '') ?? '-').padEnd(9)} attempts: ${attempts}\n`)
    }
    const retried = jobs.filter(job => job.attempts.length > 1 && job.result?.passed === true)
    const allPassed = jobs.every(job => job.result?.passed === true)
    process.stdout.write(`\n${allPassed ? pc.green('done') : pc.red('some jobs failed')}: ${jobs.length} jobs on 2 builders, ${retried.length} passed after a retry, ${((Date.now() - started) / 1000).toFixed(1)} s in all\n`)
    if (!allPassed || retried.length === 0) process.exitCode = 1
  } finally {
    await Promise.all(daemons.map(async d => await d.stop()))
    await rm(root, { recursive: true, force: true })
  }
}

main().catch(err => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
