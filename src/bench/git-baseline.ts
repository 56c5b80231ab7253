/**
 * The git side of each DESIGN.md target: the same work done by stock git over `git://` on
 * loopback, timed in the same run as gitmesh so the ratio does not depend on the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { gitText, runGit } from '../git/git-process.js'
import { benchGitEnv } from './corpora.js'
import { timed } from './stats.js'

/** Longest any one timed git command may take before the bench gives up on it. */
const GIT_TIMEOUT_MS = 120_000
/** Longest git daemon may take to start listening. */
const DAEMON_START_TIMEOUT_MS = 10_000
/** Interval between connection attempts while git daemon starts: short, it binds in milliseconds. */
const DAEMON_POLL_MS = 5
/** Grace given to git daemon after SIGTERM before SIGKILL. */
const DAEMON_STOP_GRACE_MS = 5_000
/** Tries at starting git daemon: another process may take the free port before the daemon binds it. */
const DAEMON_START_ATTEMPTS = 3

export interface GitDaemon {
  port: number
  /** `git://127.0.0.1:<port>/<repoName>`, `repoName` being a folder under the base directory. */
  url: (repoName: string) => string
  /** Stops the daemon and the children serving open connections; safe to call twice. */
  stop: () => Promise<void>
}

/** A `git://` URL on loopback, for the daemon's own port or a proxy's. */
export function gitUrl (port: number, repoName: string): string {
  return `git://127.0.0.1:${port}/${repoName}`
}

/**
 * Lets clients fetch any commit by id, as gitmesh builders do; without it git only serves ref
 * tips, and a snapshot commit is on no ref.
 */
export async function allowFetchByCommitId (repoDir: string): Promise<void> {
  await gitText(['config', 'uploadpack.allowAnySHA1InWant', 'true'], { cwd: repoDir, env: benchGitEnv() })
}

/**
 * Serves every repository under `baseDir` read-only with `git daemon` on 127.0.0.1 and a free
 * port, and resolves once the daemon accepts connections.
 */
export async function startGitDaemon (baseDir: string, options: { signal?: AbortSignal } = {}): Promise<GitDaemon> {
  const root = path.resolve(baseDir)
  const signal = options.signal ?? AbortSignal.timeout(DAEMON_START_TIMEOUT_MS)
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const child = spawn('git', ['daemon', `--base-path=${root}`, '--export-all', '--reuseaddr', '--informative-errors',
      '--listen=127.0.0.1', `--port=${port}`, '--enable=upload-pack', root], {
      env: benchGitEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
      // Its own process group, so stop() also ends the per-connection children git daemon forks.
      detached: true
    })
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString('utf8')).slice(-4096) })
    const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
    child.once('error', () => { /* reported through the exit check below */ })
    // If this process dies without calling stop(), do not leave a daemon behind.
    const killOnExit = (): void => { killGroup(child, 'SIGKILL') }
    process.once('exit', killOnExit)
    let stopping: Promise<void> | undefined
    const stop = async (): Promise<void> => {
      stopping ??= (async () => {
        process.removeListener('exit', killOnExit)
        killGroup(child, 'SIGTERM')
        const escalate = setTimeout(() => { killGroup(child, 'SIGKILL') }, DAEMON_STOP_GRACE_MS)
        try {
          await exited
        } finally {
          clearTimeout(escalate)
        }
      })()
      await stopping
    }
    try {
      while (!(await canConnect(port))) {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
          throw new Error(`git daemon exited before listening on 127.0.0.1:${port}: ${stderr.trim() || 'no output'}`)
        }
        await delay(DAEMON_POLL_MS, undefined, { signal })
      }
      return { port, url: (repoName) => gitUrl(port, repoName), stop }
    } catch (err) {
      await stop()
      if (attempt < DAEMON_START_ATTEMPTS && !signal.aborted) continue
      throw err
    }
  }
}

function killGroup (child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // Already gone.
  }
}

/** A port that was free a moment ago; the caller retries if something else takes it first. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => { resolve(port) })
    })
  })
}

async function canConnect (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}

/**
 * Times `git clone --depth 1 --no-checkout <url> <dest>`: the cold-sync baseline.
 *
 * --no-checkout because a gitmesh fetch only stores objects and checks nothing out; counting a
 * checkout of thousands of files would flatter gitmesh. (--bare would measure the same transfer,
 * but a non-bare clone keeps `origin` and a layout a later `git fetch` baseline can reuse.)
 */
export async function timeGitCloneDepth1 (url: string, dest: string, options: { signal?: AbortSignal } = {}): Promise<{ ms: number, dest: string }> {
  await mkdir(path.dirname(dest), { recursive: true })
  const signal = options.signal ?? AbortSignal.timeout(GIT_TIMEOUT_MS)
  const env = benchGitEnv()
  const { ms } = await timed(async () => await runGit(['clone', '-q', '--depth', '1', '--no-checkout', url, dest], { cwd: path.dirname(dest), env, signal }))
  return { ms, dest }
}

/**
 * Times `git fetch --depth 1 <url> <commit>` into an existing clone: the incremental-sync
 * baseline. Give it a clone of the served repository at S1 and the id of S2, a child of S1 that
 * changes one file; the served repository needs `allowFetchByCommitId`. The commit's presence is
 * checked afterwards, outside the timing.
 */
export async function timeGitFetch (cloneDir: string, url: string, commit: string, options: { signal?: AbortSignal } = {}): Promise<{ ms: number }> {
  const signal = options.signal ?? AbortSignal.timeout(GIT_TIMEOUT_MS)
  const env = benchGitEnv()
  const { ms } = await timed(async () => await runGit(['fetch', '-q', '--depth', '1', url, commit], { cwd: cloneDir, env, signal }))
  await runGit(['cat-file', '-e', `${commit}^{commit}`], { cwd: cloneDir, env })
  return { ms }
}

export interface SnapshotBaselineOptions {
  /**
   * Start from a copy of the repository's real index instead of an empty one. The empty index
   * (the default) makes git hash every file; a copy lets it reuse the stat cache, which is what
   * gitmesh's own snapshot does, so this is the stricter comparison. @default false
   */
  fromRealIndex?: boolean
  signal?: AbortSignal
}

/**
 * Times `git add -A` + `git write-tree` into a throwaway index (GIT_INDEX_FILE in a temporary
 * folder), the snapshot baseline. The repository's index, working tree and refs are untouched;
 * blobs not yet stored are written to its object database, as any snapshot must.
 */
export async function timeSnapshotBaseline (repoDir: string, options: SnapshotBaselineOptions = {}): Promise<{ ms: number, tree: string }> {
  const signal = options.signal ?? AbortSignal.timeout(GIT_TIMEOUT_MS)
  const realIndex = path.resolve(repoDir, await gitText(['rev-parse', '--git-path', 'index'], { cwd: repoDir, env: benchGitEnv() }))
  const scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-bench-index-'))
  try {
    const indexFile = path.join(scratch, 'index')
    const env = benchGitEnv({ GIT_INDEX_FILE: indexFile })
    const { ms, value: tree } = await timed(async () => {
      if (options.fromRealIndex === true) await copyFile(realIndex, indexFile)
      // core.fsmonitor off, as in gitmesh's snapshot: a hook must not see the private index.
      await runGit(['-c', 'core.fsmonitor=false', 'add', '-A', '--', '.'], { cwd: repoDir, env, signal })
      return await gitText(['write-tree'], { cwd: repoDir, env, signal })
    })
    return { ms, tree }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
