import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_PATH, runCliJson, startDaemon, type DaemonProcess } from '../../src/demo/processes.js'
import { callDaemon, type CallOptions } from '../../src/daemon/control-client.js'
import { isDaemonAway } from '../../src/daemon/errors.js'
import { Home } from '../../src/home/home.js'
import type { JobView } from '../../src/daemon/views.js'

// The daemon's job JSON, declared once with the code that builds it; the tests take it from here.
export type { JobView }

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
  /** Flags of the author's daemon, kept for `restart` (which may change them). */
  authorArgs: string[] = []
  /** Added to both daemons' environment (`JobRig.start`'s `env`). */
  private env: Record<string, string> = {}
  private builderEnv: Record<string, string> = {}

  private constructor (readonly root: string) {
    this.authorHome = path.join(root, 'author')
    this.builderHome = path.join(root, 'builder')
    this.repo = path.join(root, 'project')
  }

  /**
   * `options.env`: variables both daemons get besides the test's own environment (a `PATH` that
   * finds stand-in agents, say); `options.builderEnv`: more for the builder daemon only;
   * `options.prepareBuilder`: runs on the builder's initialized home before it starts (a config, a secrets file);
   * `options.authorArgs`: the author daemon's flags (default `--no-notify`).
   */
  static async start (builderArgs: string[] = [], options: { env?: Record<string, string>, builderEnv?: Record<string, string>, prepareBuilder?: (home: string) => Promise<void>, authorArgs?: string[] } = {}): Promise<JobRig> {
    const rig = new JobRig(await mkdtemp(path.join(tmpdir(), 'gitmesh-jobs-')))
    rig.builderArgs = builderArgs
    rig.env = options.env ?? {}
    rig.builderEnv = { ...rig.env, ...options.builderEnv }
    // No desktop notifications from test daemons unless a test asks for them (test/e2e/hooks.test.ts).
    rig.authorArgs = options.authorArgs ?? ['--no-notify']
    await runCliJson(rig.authorHome, ['init'])
    await runCliJson(rig.builderHome, ['init'])
    await options.prepareBuilder?.(rig.builderHome)
    rig.author = await startDaemon(rig.authorHome, rig.authorArgs, undefined, rig.env)
    rig.builder = await startDaemon(rig.builderHome, ['--builder', ...builderArgs], undefined, rig.builderEnv)
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

  /**
   * Waits (bounded) until the job is in one of `states`: on the author daemon's job events, with a
   * look over the control socket every half second as a safety net (a change made before the
   * event stream was open, or a daemon restarted meanwhile). No process is started per look.
   */
  async waitFor (job: string, states: string[], timeoutMs = 30_000): Promise<JobView> {
    return await this.waitForView(job, view => states.includes(view.state), states.join('/'), timeoutMs)
  }

  /**
   * Waits (bounded) until the job's view satisfies `wanted` (`what` names it in the timeout error),
   * as `waitFor`. `authorHome`: another author's daemon to follow.
   */
  async waitForView (job: string, wanted: (view: JobView) => boolean, what = 'a condition', timeoutMs = 30_000, authorHome = this.authorHome): Promise<JobView> {
    let last: JobView | undefined
    const matches = (view: JobView): boolean => view.name === job || view.id === job || view.id === last?.id
    const found = await this.follow(authorHome, async call => [await call<JobView>('show', { job })], views => {
      const view = [...views.values()].find(matches)
      if (view === undefined) return undefined
      last = view
      return wanted(view) ? view : undefined
    }, () => `job ${job} stayed ${last?.state ?? 'unseen'} (wanted ${what})`, timeoutMs)
    return found
  }

  /** Waits (bounded) until the author's jobs, as a whole, satisfy `wanted`; returns them. */
  async waitForJobs (wanted: (jobs: JobView[]) => boolean, what: string, timeoutMs = 30_000): Promise<JobView[]> {
    let last: JobView[] = []
    return await this.follow(this.authorHome, async call => await call<JobView[]>('jobs', {}), views => {
      last = [...views.values()]
      return wanted(last) ? last : undefined
    }, () => `the jobs never got to ${what} (last: ${last.map(job => `${job.name} ${job.state}`).join(', ')})`, timeoutMs)
  }

  /**
   * Follows an author daemon's job events, with a look (`look`) now and every 500 ms in case an
   * event was missed (before the stream was open, or while the daemon restarted), until `check`
   * finds what is wanted in the latest view of each job. No process is started per look.
   */
  private async follow<T> (authorHome: string, look: (call: <R>(method: string, params: Record<string, unknown>) => Promise<R>) => Promise<JobView[]>, check: (views: ReadonlyMap<string, JobView>) => T | undefined, describe: () => string, timeoutMs: number): Promise<T> {
    const home = Home.resolve(authorHome)
    const call = async <R>(method: string, params: Record<string, unknown>, options: CallOptions = {}): Promise<R> =>
      await callDaemon<R>(home.socketPath, home.dir, method, params, options)
    const done = new AbortController()
    const deadline = Date.now() + timeoutMs
    const views = new Map<string, JobView>()
    let found: T | undefined
    let away: Error | undefined
    let wake = (): void => {}
    const see = (seen: JobView[]): void => {
      for (const view of seen) views.set(view.id, view)
      found ??= check(views)
    }
    const following = (async () => {
      while (!done.signal.aborted) {
        await call('watch', {}, {
          signal: done.signal,
          onEvent: event => {
            if (event.type !== 'job') return
            see([event.job as JobView])
            if (found !== undefined) wake()
          }
        }).catch(() => {})
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    })()
    try {
      while (found === undefined) {
        if (Date.now() > deadline) {
          const daemon = authorHome === this.authorHome ? this.author : undefined
          const awayNote = away === undefined ? '' : `; the daemon is away: ${away.message}${daemon === undefined ? '' : ` (exit ${daemon.child.exitCode ?? daemon.child.signalCode ?? 'none yet'}; stderr: ${daemon.stderr().slice(-2000)})`}`
          throw new Error(`${describe()}${awayNote}`)
        }
        const seen = await look(call).catch(err => {
          // A daemon being restarted by the test is waited for; the deadline bounds it.
          if (!isDaemonAway(err)) throw err
          away = err as Error
          return undefined
        })
        if (seen !== undefined) {
          away = undefined
          see(seen)
        }
        if (found !== undefined) break
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, 500)
          wake = () => { clearTimeout(timer); resolve() }
        })
      }
      return found
    } finally {
      done.abort()
      await following
    }
  }

  /** Starts another builder in its own home, trusted both ways. */
  async addBuilder (args: string[]): Promise<DaemonProcess> {
    const home = path.join(this.root, `builder-${this.extra.length + 2}`)
    await runCliJson(home, ['init'])
    const builder = await startDaemon(home, ['--builder', ...args], undefined, this.env)
    await runCliJson(this.authorHome, ['trust', builder.peerId, '--role', 'builder', '--addr', builder.addrs[0]!])
    await runCliJson(home, ['trust', this.author.peerId, '--role', 'author', '--addr', this.author.addrs[0]!])
    this.extra.push(builder)
    return builder
  }

  readonly extra: DaemonProcess[] = []

  /** Restarts a daemon on the same address, as a user restarting it would; `whileDown` runs while it is stopped. */
  async restart (which: 'author' | 'builder', kill = false, whileDown?: () => Promise<void>): Promise<void> {
    const daemon = this[which]
    const listen = daemon.addrs[0]!.replace(/\/p2p\/.*$/, '')
    if (kill) await daemon.kill()
    else await daemon.stop()
    await whileDown?.()
    this[which] = await startDaemon(which === 'author' ? this.authorHome : this.builderHome, which === 'builder' ? ['--builder', ...this.builderArgs] : this.authorArgs, listen, which === 'builder' ? this.builderEnv : this.env)
  }

  async stop (): Promise<void> {
    await Promise.all([this.author?.stop(), this.builder?.stop(), ...this.extra.map(async b => await b.stop())])
    await rm(this.root, { recursive: true, force: true })
  }
}

/** Waits (bounded, polling) until `condition` holds. */
export async function waitUntil (condition: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met in ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}
