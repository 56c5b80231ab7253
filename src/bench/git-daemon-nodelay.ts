/**
 * A git:// server without Nagle stalls, as a second, stricter git baseline.
 *
 * Stock `git daemon` (upload-pack behind it) writes a pkt-line's 4-byte length and its payload
 * in separate write() calls on a socket without TCP_NODELAY. Nagle holds the payload until the
 * length is acknowledged, and the peer's delayed ACK takes ~40 ms on Linux, so a small fetch
 * over loopback spends most of its time waiting (strace shows two ~42 ms gaps in a one-file
 * `git fetch` of ~105 ms). gitmesh should beat git's work, not that artefact, so the bench can
 * also measure against this server: Node accepts the TCP connection with TCP_NODELAY and hands
 * it to `git daemon --inetd` over pipes, which have no Nagle. Same protocol, same git programs,
 * same bytes on the wire.
 *
 * The git client has the same habit when it sends a protocol v2 request, which this server
 * cannot fix; pair it with `protocolVersion: 0` for a stall-free baseline (a one-file fetch then
 * takes ~22 ms instead of ~105 ms on the machine this was written on).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { gitText } from '../git/git-process.js'
import { benchGitEnv } from './corpora.js'
import { gitUrl, type GitDaemon } from './git-baseline.js'
import { listenOnLoopback } from './loopback.js'

/**
 * Serves every repository under `baseDir` read-only over git:// on 127.0.0.1 (free port), one
 * `git daemon --inetd` per connection, with TCP_NODELAY on the socket. Same interface as
 * `startGitDaemon`; resolves once it accepts connections.
 */
export async function startGitDaemonNoDelay (baseDir: string): Promise<GitDaemon> {
  const root = path.resolve(baseDir)
  const daemonProgram = path.join(await gitText(['--exec-path'], { cwd: root, env: benchGitEnv() }), 'git-daemon')
  const children = new Set<ChildProcess>()
  const sockets = new Set<net.Socket>()

  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket)
    const child = spawn(daemonProgram, ['--inetd', `--base-path=${root}`, '--export-all', '--informative-errors',
      '--enable=upload-pack', root], { env: benchGitEnv(), stdio: ['pipe', 'pipe', 'ignore'] })
    children.add(child)
    socket.pipe(child.stdin)
    child.stdout.pipe(socket)
    // Either side going away ends the other: a dead client must not leave an upload-pack behind.
    const end = (): void => { socket.destroy(); child.kill() }
    socket.once('close', () => { sockets.delete(socket); child.kill() })
    socket.once('error', end)
    child.stdin.once('error', end)
    child.once('error', end)
    child.once('close', () => { children.delete(child); socket.end() })
  })

  const port = await listenOnLoopback(server)

  let stopping: Promise<void> | undefined
  return {
    port,
    url: (repoName) => gitUrl(port, repoName),
    stop: async () => {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => { server.close(() => { resolve() }) })
        const exits = [...children].map(async (child) => await new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve()
          else child.once('close', () => { resolve() })
        }))
        for (const socket of sockets) socket.destroy()
        for (const child of children) child.kill()
        await Promise.all([closed, ...exits])
      })()
      await stopping
    }
  }
}
