/**
 * The git side of each DESIGN.md target: the same work done by stock git over `git://` on
 * loopback, timed in the same run as gitmesh so the ratio does not depend on the machine.
 */
import { spawn } from 'node:child_process'
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
/** Tries at starting git daemon: another process may take the free port before the daemon binds it. */
const DAEMON_START_ATTEMPTS = 3

export interface GitDaemon {
  port: number
  /** `git://127.0.0.1:<port>/<repoName>`, `repoName` being a folder under the base directory. */
  url: (repoName: string) => string
  /**
   * Stops the daemon; resolves once it and any connection it is still serving have finished.
   * Safe to call twice.
   */
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
 * Runs git daemon under a small shell watchdog. The daemon is killed when the watchdog's stdin
 * (a pipe from this process) reaches end of file: on stop(), and equally when this process dies
 * by Ctrl-C, SIGTERM or SIGKILL, which no exit handler in Node could cover. The watchdog exits
 * when the daemon does, so an early failure (port taken) shows as the child exiting.
 * A background job's stdin is /dev/null in sh, hence the pipe is passed on as fd 3.
 */
const WATCHDOG = 'exec 3<&0; "$0" "$@" & daemon=$!; (read _ <&3; kill $daemon 2>/dev/null) & wait $daemon'

/**
 * Serves every repository under `baseDir` read-only with `git daemon` on 127.0.0.1 and a free
 * port, and resolves once the daemon accepts connections.
 */
export async function startGitDaemon (baseDir: string, options: { signal?: AbortSignal } = {}): Promise<GitDaemon> {
  const root = path.resolve(baseDir)
  const signal = options.signal ?? AbortSignal.timeout(DAEMON_START_TIMEOUT_MS)
  // The git-daemon program itself rather than the `git` wrapper, so the watchdog's kill reaches it.
  const daemonProgram = path.join(await gitText(['--exec-path'], { cwd: root, env: benchGitEnv() }), 'git-daemon')
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const child = spawn('sh', ['-c', WATCHDOG, daemonProgram, `--base-path=${root}`, '--export-all', '--reuseaddr',
      '--informative-errors', '--listen=127.0.0.1', `--port=${port}`, '--enable=upload-pack', root], {
      env: benchGitEnv(),
      stdio: ['pipe', 'ignore', 'pipe']
    })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString('utf8')).slice(-4096) })
    child.stdin.on('error', () => { /* the watchdog may be gone already; its exit tells */ })
    child.once('error', () => { /* spawn failure: seen as an exit below */ })
    const exited = new Promise<void>((resolve) => child.once('close', () => { resolve() }))
    const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null || child.pid === undefined
    let stopping: Promise<void> | undefined
    const stop = async (): Promise<void> => {
      stopping ??= (async () => {
        child.stdin.end()
        if (!hasExited()) await exited
      })()
      await stopping
    }
    try {
      while (!(await canConnect(port))) {
        if (hasExited()) throw new Error(`git daemon exited before listening on 127.0.0.1:${port}: ${stderr.trim() || 'no output'}`)
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

export interface GitTransferOptions {
  /**
   * The client's wire protocol (`-c protocol.version=N`). git 2.39 uses 2, whose client writes
   * its ls-refs request in several small pieces on a socket without TCP_NODELAY: on loopback that
   * costs a ~40 ms Nagle/delayed-ACK stall that version 0 does not have (see
   * git-daemon-nodelay.ts for the server's own stalls). @default git's own default (2)
   */
  protocolVersion?: 0 | 1 | 2
  signal?: AbortSignal
}

function protocolArgs (options: GitTransferOptions): string[] {
  return options.protocolVersion === undefined ? [] : ['-c', `protocol.version=${options.protocolVersion}`]
}

/**
 * Times `git clone --depth 1 --no-checkout <url> <dest>`: the cold-sync baseline.
 *
 * --no-checkout because a gitmesh fetch only stores objects and checks nothing out; counting a
 * checkout of thousands of files would flatter gitmesh. (--bare would measure the same transfer,
 * but a non-bare clone keeps `origin` and a layout a later `git fetch` baseline can reuse.)
 */
export async function timeGitCloneDepth1 (url: string, dest: string, options: GitTransferOptions = {}): Promise<{ ms: number, dest: string }> {
  await mkdir(path.dirname(dest), { recursive: true })
  const signal = options.signal ?? AbortSignal.timeout(GIT_TIMEOUT_MS)
  const env = benchGitEnv()
  const { ms } = await timed(async () => await runGit([...protocolArgs(options), 'clone', '-q', '--depth', '1', '--no-checkout', url, dest], { cwd: path.dirname(dest), env, signal }))
  return { ms, dest }
}

/**
 * Times `git fetch --depth 1 <url> <commit>` into an existing repository: the incremental-sync
 * baseline. Give it a clone of the served repository at S1 and the id of S2, a child of S1 that
 * changes one file; the served repository needs `allowFetchByCommitId`. The commit's presence is
 * checked afterwards, outside the timing.
 *
 * The commit is stored under `refs/bench/<commit>`: git offers only ref tips as "haves", so a
 * commit left in FETCH_HEAD alone would not count as held, and the next fetch would resend its
 * whole tree. With the ref, an empty `git init` repository fetched to S1 this way is a valid warm
 * builder for a later fetch of S2.
 */
export async function timeGitFetch (cloneDir: string, url: string, commit: string, options: GitTransferOptions = {}): Promise<{ ms: number }> {
  const signal = options.signal ?? AbortSignal.timeout(GIT_TIMEOUT_MS)
  const env = benchGitEnv()
  const { ms } = await timed(async () => await runGit([...protocolArgs(options), 'fetch', '-q', '--depth', '1', url, `+${commit}:refs/bench/${commit}`], { cwd: cloneDir, env, signal }))
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
