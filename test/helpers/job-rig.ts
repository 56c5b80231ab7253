import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_PATH, runCliJson, startDaemon, type DaemonProcess } from '../../src/demo/processes.js'

export interface JobView {
  blockedBy: { job: string, reason: string } | null
  outsideOwns: string[]
  candidates: Array<{ number: number, commit: string, passed: boolean, builder: string }>
  overlaps: string[]
  id: string
  name: string
  state: string
  reason: string | null
  builder: string | null
  round: number
  attempt: number
  attempts: Array<{ round: number, number: number, passed: boolean, ms: number, log?: string }>
  result: { commit: string, passed: boolean, builder: string } | null
  merge: { w0: string, paths: string[], conflicts: string[], testPassed: boolean | null } | null
  acceptedCommit: string | null
  snapshot: string
  prompt: string
  builderLoad: { slots: number, running: number, queued: number, reachable: boolean } | null
  elapsedMs: number
}

export function git (cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.invalid', GIT_COMMITTER_NAME: 'dev', GIT_COMMITTER_EMAIL: 'dev@example.invalid' } }).replace(/\n$/, '')
}

/** A generator that waits for `release` to exist (recording its pid first), then runs the built-in one. */
export function blockingGenerator (dir: string): { command: string, release: string, pidFile: string } {
  const release = path.join(dir, 'release')
  const pidFile = path.join(dir, 'generator.pid')
  const command = `echo $$ > '${pidFile}'; while [ ! -e '${release}' ]; do sleep 0.05; done; exec '${process.execPath}' '${CLI_PATH}' generate-blocks`
  return { command, release, pidFile }
}

/** An author and a builder on loopback that trust each other, and a project with tests. */
export class JobRig {
  author!: DaemonProcess
  builder!: DaemonProcess
  readonly authorHome: string
  readonly builderHome: string
  readonly repo: string
  private builderArgs: string[] = []

  private constructor (readonly root: string) {
    this.authorHome = path.join(root, 'author')
    this.builderHome = path.join(root, 'builder')
    this.repo = path.join(root, 'project')
  }

  static async start (builderArgs: string[] = []): Promise<JobRig> {
    const rig = new JobRig(await mkdtemp(path.join(tmpdir(), 'gitmesh-jobs-')))
    rig.builderArgs = builderArgs
    await runCliJson(rig.authorHome, ['init'])
    await runCliJson(rig.builderHome, ['init'])
    rig.author = await startDaemon(rig.authorHome)
    rig.builder = await startDaemon(rig.builderHome, ['--builder', ...builderArgs])
    await runCliJson(rig.authorHome, ['trust', rig.builder.peerId, '--role', 'builder', '--addr', rig.builder.addrs[0]!])
    await runCliJson(rig.builderHome, ['trust', rig.author.peerId, '--role', 'author', '--addr', rig.author.addrs[0]!])
    await rig.makeProject()
    return rig
  }

  /** A project whose test checks greet.txt, with gitmesh.json, committed. */
  private async makeProject (): Promise<void> {
    await mkdir(this.repo, { recursive: true })
    git(this.repo, 'init', '-q', '-b', 'main')
    await writeFile(path.join(this.repo, 'gitmesh.json'), JSON.stringify({ test: 'sh test.sh', attempts: 3, timeouts: { generate: '30s', test: '30s' } }) + '\n')
    // The test prints a corrected block on failure: the retry loop feeds it back to the generator.
    await writeFile(path.join(this.repo, 'test.sh'), [
      'if [ -f greet.txt ] && ! grep -q "hello world" greet.txt; then',
      '  printf "greet.txt must say hello world, for example:\\n\\n"',
      '  printf "\\`\\`\\`txt path=greet.txt\\nhello world\\n\\`\\`\\`\\n"',
      '  exit 1',
      'fi',
      'if [ -f fail.txt ]; then echo "fail.txt makes the tests fail"; exit 1; fi',
      'exit 0',
      ''
    ].join('\n'))
    await writeFile(path.join(this.repo, 'notes.txt'), 'line one\nline two\nline three\n')
    git(this.repo, 'add', '-A')
    git(this.repo, 'commit', '-q', '-m', 'project')
  }

  async cli<T> (args: string[]): Promise<T> {
    return await runCliJson<T>(this.authorHome, args)
  }

  async offer (prompt: string, extra: string[] = []): Promise<JobView> {
    return await this.cli<JobView>(['offer', '--repo', this.repo, '-m', prompt, ...extra])
  }

  async show (job: string): Promise<JobView> {
    return await this.cli<JobView>(['show', job])
  }

  /** Waits (bounded) until the job is in one of `states`, watching the daemon's job events. */
  async waitFor (job: string, states: string[], timeoutMs = 30_000): Promise<JobView> {
    const deadline = Date.now() + timeoutMs
    let last: JobView | undefined
    while (Date.now() < deadline) {
      last = await this.show(job)
      if (states.includes(last.state)) return last
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    throw new Error(`job ${job} stayed ${last?.state} (wanted ${states.join('/')})`)
  }

  /** Starts another builder in its own home, trusted both ways. */
  async addBuilder (args: string[]): Promise<DaemonProcess> {
    const home = path.join(this.root, `builder-${this.extra.length + 2}`)
    await runCliJson(home, ['init'])
    const builder = await startDaemon(home, ['--builder', ...args])
    await runCliJson(this.authorHome, ['trust', builder.peerId, '--role', 'builder', '--addr', builder.addrs[0]!])
    await runCliJson(home, ['trust', this.author.peerId, '--role', 'author', '--addr', this.author.addrs[0]!])
    this.extra.push(builder)
    return builder
  }

  readonly extra: DaemonProcess[] = []

  /** Restarts a daemon on the same address, as a user restarting it would. */
  async restart (which: 'author' | 'builder', kill = false): Promise<void> {
    const daemon = this[which]
    const listen = daemon.addrs[0]!.replace(/\/p2p\/.*$/, '')
    if (kill) await daemon.kill()
    else await daemon.stop()
    this[which] = await startDaemon(which === 'author' ? this.authorHome : this.builderHome, which === 'builder' ? ['--builder', ...this.builderArgs] : [], listen)
  }

  async stop (): Promise<void> {
    await Promise.all([this.author?.stop(), this.builder?.stop(), ...this.extra.map(async b => await b.stop())])
    await rm(this.root, { recursive: true, force: true })
  }
}

/** Waits (bounded, polling) until `condition` holds. */
export async function waitUntil (condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}
