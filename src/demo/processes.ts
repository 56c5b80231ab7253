import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

/**
 * The built `gitmesh` entry point, run with the same Node.js as this process. The path is taken
 * from the package root so it is the same whether this module runs from src/ (tests) or dist/.
 */
export const CLI_PATH = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs one `gitmesh` command in a home, as a user would, and collects its output. */
export async function runCli (home: string, args: string[], options: { cwd?: string, input?: string } = {}): Promise<CliResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      cwd: options.cwd,
      env: { ...process.env, GITMESH_HOME: home, NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8') })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
    child.on('error', reject)
    child.on('close', code => { resolve({ code: code ?? -1, stdout, stderr }) })
    child.stdin.end(options.input ?? '')
  })
}

/** Runs a `gitmesh ... --json` command and parses its output; a non-zero exit throws with stderr. */
export async function runCliJson<T> (home: string, args: string[], options: { cwd?: string } = {}): Promise<T> {
  const result = await runCli(home, [...args, '--json'], options)
  if (result.code !== 0) throw new Error(`gitmesh ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`)
  return JSON.parse(result.stdout) as T
}

export interface DaemonProcess {
  home: string
  peerId: string
  addrs: string[]
  child: ChildProcess
  /** Every line the daemon printed on stdout so far (the ready line, then notices). */
  lines: string[]
  /** What it printed on stderr so far (its last words, when it died). */
  stderr: () => string
  /** Stops the daemon with SIGTERM and waits for it to exit; returns the exit code. */
  stop: () => Promise<number | null>
  /** Kills it with SIGKILL, as a crash would. */
  kill: () => Promise<void>
}

/**
 * Starts `gitmesh daemon` on loopback in a home and waits for its ready line. `env` is added to
 * this process's environment (a `PATH` with stand-in agents first, say).
 */
export async function startDaemon (home: string, extraArgs: string[] = [], listen = '/ip4/127.0.0.1/tcp/0', env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [...nodeArgs, CLI_PATH, 'daemon', '--json', '--listen', listen, ...extraArgs], {
    env: { ...process.env, ...env, GITMESH_HOME: home, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  const printed: string[] = []
  const ready = await new Promise<{ peerId: string, addrs: string[] }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', line => {
      printed.push(line)
      // The ready line is one JSON line; anything before it that does not parse is skipped.
      try {
        const value = JSON.parse(line) as { event?: string, peerId: string, addrs: string[] }
        if (value.event === 'ready') resolve(value)
      } catch { /* not complete yet */ }
    })
    void exited.then(code => { reject(new Error(`gitmesh daemon exited (${code}) before it was ready: ${stderr.trim()}`)) })
  })
  return {
    home,
    peerId: ready.peerId,
    addrs: ready.addrs,
    child,
    lines: printed,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return await exited
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    }
  }
}
