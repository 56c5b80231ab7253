import { execFile } from 'node:child_process'
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { callDaemon } from '../daemon/control-client.js'
import { CLI_PATH, runCliJson, startDaemon, type DaemonProcess } from '../demo/processes.js'
import type { JobView } from '../daemon/views.js'
import { timed } from './stats.js'

const run = promisify(execFile)

/** Small real packages with a few dependencies of their own: a `npm ci` of about a dozen packages. */
const NPM_DEPENDENCIES = { chalk: '4.1.2', debug: '4.3.4', semver: '7.6.0' }

/** Files and bytes of the stand-in dependency tree, used when the npm registry cannot be reached. */
const STAND_IN_FILES = 600
const STAND_IN_FILE_BYTES = 2048

export interface SetupCacheFigures {
  /** `npm ci` of real packages, or the generated stand-in tree. */
  setup: 'npm ci' | 'generated tree'
  files: number
  /** offer → generator started, first job on a cold builder: fetch, setup, capture. */
  coldMs: number
  /** the same, second job with the same lock file in the pooled worktree: setup skipped. */
  pooledMs: number
  /** the same, a job in a fresh worktree (builder restarted): the cache copied in. */
  restoredMs: number
  /** the builder's own account (attempt 1's log): setup's run time in the first job, and the restore's in the third. */
  setupRanMs: number
  restoreStepMs: number
  /** copying the cached folder into a worktree: `cp -a --reflink=auto` (what the builder does) and `cp -al` (hard links, not used). */
  copyMs: number
  hardLinkMs: number
}

/**
 * Offer → generator started for jobs of a project whose gitmesh.json has `setup` keyed by its
 * lock file: cold (setup runs), in the same pooled worktree (skipped), and in a fresh worktree of
 * a restarted builder (restored from the cache); then the restore's copy against hard links on
 * this filesystem. The project depends on a few real npm packages when the registry answers;
 * otherwise setup writes a generated tree of similar size (the output says which).
 */
export async function measureSetupCache (): Promise<SetupCacheFigures> {
  const work = await mkdtemp(path.join(tmpdir(), 'gitmesh-bench-setup-'))
  const stamps = path.join(work, 'started')
  const daemons: DaemonProcess[] = []
  try {
    const repo = path.join(work, 'project')
    const { setup, kind } = await makeProject(repo)
    const authorHome = path.join(work, 'author')
    const builderHome = path.join(work, 'builder')
    await runCliJson(authorHome, ['init'])
    await runCliJson(builderHome, ['init'])
    const author = await startDaemon(authorHome)
    daemons.push(author)
    const generate = `date +%s%3N >> '${stamps}' && exec '${process.execPath}' '${CLI_PATH}' generate-blocks`
    const builderArgs = ['--builder', '--slots', '1', '--generate', generate]
    let builder = await startDaemon(builderHome, builderArgs)
    daemons.push(builder)
    await runCliJson(authorHome, ['trust', builder.peerId, '--role', 'builder', '--addr', builder.addrs[0]!])
    await runCliJson(builderHome, ['trust', author.peerId, '--role', 'author', '--addr', author.addrs[0]!])
    await writeFile(path.join(repo, 'gitmesh.json'), JSON.stringify({ test: 'true', attempts: 1, setup, setupKey: ['package-lock.json'] }) + '\n')

    const socket = path.join(authorHome, 'control.sock')
    let n = 0
    const logs: string[] = []
    const offerToGenerator = async (): Promise<number> => {
      n++
      await appendFile(path.join(repo, 'notes.txt'), `job ${n}\n`)
      const before = (await readFile(stamps, 'utf8').catch(() => '')).split('\n').filter(Boolean).length
      const offeredAt = Date.now()
      const prompt = `bench setup ${n}\n\n\`\`\`txt path=out-${n}.txt\njob ${n}\n\`\`\`\n`
      const job = await callDaemon<JobView>(socket, authorHome, 'offer', { repo, prompt, name: `setup-bench-${n}` })
      const done = await waitForEnd(socket, authorHome, job.id)
      if (done.state !== 'returned') throw new Error(`bench job ${job.name} ended ${done.state}: ${done.reason ?? ''}`)
      const lines = (await readFile(stamps, 'utf8')).split('\n').filter(Boolean)
      logs.push((await callDaemon<JobView>(socket, authorHome, 'show', { job: job.id, log: true })).attempts[0]?.log ?? '')
      return Number(lines[before]) - offeredAt
    }
    const coldMs = await offerToGenerator()
    const pooledMs = await offerToGenerator()
    // A restarted builder makes its worktrees anew and keeps its setup cache.
    const listen = builder.addrs[0]!.replace(/\/p2p\/.*$/, '')
    await builder.stop()
    daemons.splice(daemons.indexOf(builder), 1)
    builder = await startDaemon(builderHome, builderArgs, listen)
    daemons.push(builder)
    const restoredMs = await offerToGenerator()

    // The restore's copy against hard links, on the entry the builder captured.
    const cacheRoot = path.join(builderHome, 'builder', 'setup-cache')
    const entry = await onlyEntry(cacheRoot)
    const files = Number((await run('sh', ['-c', `find '${entry}' -type f | wc -l`])).stdout.trim())
    const copyMs = (await timed(async () => { await run('cp', ['-a', '--reflink=auto', '--', `${entry}/.`, path.join(work, 'copied')]) })).ms
    const hardLinkMs = (await timed(async () => { await run('cp', ['-al', '--', `${entry}/.`, path.join(work, 'linked')]) })).ms
    const setupRanMs = Number(/setup ran in (\d+) ms/.exec(logs[0] ?? '')?.[1] ?? NaN)
    const restoreStepMs = Number(/from the builder's cache in (\d+) ms/.exec(logs[2] ?? '')?.[1] ?? NaN)
    if (!/setup skipped: this worktree/.test(logs[1] ?? '') || Number.isNaN(setupRanMs) || Number.isNaN(restoreStepMs)) throw new Error(`the setup bench's jobs did not take the expected paths: ${logs.map(log => log.split('\n')[1]).join(' | ')}`)
    return { setup: kind, files, coldMs, pooledMs, restoredMs, setupRanMs, restoreStepMs, copyMs, hardLinkMs }
  } finally {
    for (const daemon of daemons) await daemon.stop().catch(() => {})
    await rm(work, { recursive: true, force: true })
  }
}

/** The project: real npm dependencies with a lock file when the registry answers, else a generated tree. */
async function makeProject (repo: string): Promise<{ setup: string, kind: SetupCacheFigures['setup'] }> {
  await mkdir(repo, { recursive: true })
  await run('git', ['init', '-q', '-b', 'main'], { cwd: repo })
  await writeFile(path.join(repo, '.gitignore'), 'node_modules/\n')
  await writeFile(path.join(repo, 'notes.txt'), 'notes\n')
  await writeFile(path.join(repo, 'package.json'), JSON.stringify({ name: 'setup-bench', version: '1.0.0', private: true, dependencies: NPM_DEPENDENCIES }, null, 2) + '\n')
  try {
    await run('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: repo, timeout: 60_000 })
    return { setup: 'npm ci --no-audit --no-fund', kind: 'npm ci' }
  } catch {
    // No registry: a lock file of our own and a setup that writes a tree of similar size from it.
    await writeFile(path.join(repo, 'package-lock.json'), '{"lockfileVersion": 3, "stand-in": true}\n')
    const script = `const fs=require('fs');for(let i=0;i<${STAND_IN_FILES};i++){const d='node_modules/pkg-'+(i%30);fs.mkdirSync(d,{recursive:true});fs.writeFileSync(d+'/f'+i+'.js','x'.repeat(${STAND_IN_FILE_BYTES}))}`
    return { setup: `node -e "${script}"`, kind: 'generated tree' }
  }
}

async function onlyEntry (cacheRoot: string): Promise<string> {
  const [author] = await readdir(cacheRoot)
  const [repo] = await readdir(path.join(cacheRoot, author!))
  const entries = (await readdir(path.join(cacheRoot, author!, repo!))).filter(name => !name.startsWith('.'))
  if (entries.length !== 1) throw new Error(`expected one setup cache entry, found ${entries.length}`)
  return path.join(cacheRoot, author!, repo!, entries[0]!, 'tree')
}

async function waitForEnd (socket: string, home: string, id: string): Promise<JobView> {
  const stop = new AbortController()
  const ended = ['returned', 'failed', 'cancelled']
  return await new Promise<JobView>((resolve, reject) => {
    const check = (job: JobView): void => {
      if (job.id === id && ended.includes(job.state)) {
        stop.abort()
        resolve(job)
      }
    }
    callDaemon(socket, home, 'watch', {}, { signal: stop.signal, onEvent: event => { check(event.job as JobView) } }).catch(err => { if (!stop.signal.aborted) reject(err) })
    callDaemon<JobView>(socket, home, 'show', { job: id }).then(check, reject)
  })
}
