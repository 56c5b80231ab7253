import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { callDaemon } from '../daemon/control-client.js'
import { CLI_PATH, runCliJson, startDaemon, type DaemonProcess } from '../demo/processes.js'
import { makeSampleProject } from '../demo/sample-project.js'
import type { JobView, LogChunkView, LogsView } from '../daemon/views.js'
import { median, percentile } from './stats.js'

export interface LogFigures {
  /** Line printed by the generator → read by `gitmesh logs -f` at the author. */
  lines: number
  medianMs: number
  p95Ms: number
  /** The builder daemon's CPU while a generator prints `floodBytes` over `floodMs`, as % of one core. */
  floodBytes: number
  floodMs: number
  builderCpuPercent: number
  /**
   * The same daemon, in the same run, while the same generator prints the same bytes to
   * /dev/null instead of its output (no live log, no output read): what running the job costs.
   */
  baselineCpuPercent: number
  /** The same daemon idle, over a window of its own in the same run. */
  idleCpuPercent: number
}

/**
 * The generator for both figures, chosen by the prompt: it prints `ready`, waits for the bench's
 * go file, then either prints `tick <i> <ms since the epoch>` every `interval` ms, or floods
 * about `bytes` of lines like an agent's and a test runner's (outputLine) evenly over `ms` (in 50 ms
 * slices, honouring the pipe's backpressure),
 * to /dev/null instead of its output when `sink` says so (the baseline).
 */
const GENERATOR = `
import { existsSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
const spec = JSON.parse(readFileSync(process.env.GITMESH_PROMPT_FILE, 'utf8').split('\\n')[0])
import { openSync, writeSync } from 'node:fs'
const write = text => new Promise(resolve => { if (process.stdout.write(text)) resolve(); else process.stdout.once('drain', resolve) })
const sink = spec.sink === undefined ? undefined : openSync(spec.sink, 'w')
const flood = async text => { if (sink === undefined) await write(text); else writeSync(sink, text) }
// Output like an agent's and a test runner's: JSON-lines events with ids, paths, token counts and
// prose, test lines with names and timings, log lines with timestamps, stack frames; the same
// seed each run, so every run sends the same bytes.
let seed = 0x9e3779b9
const random = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 4294967296 }
const int = n => Math.floor(random() * n)
const pick = list => list[int(list.length)]
const WORDS = 'the a of to in and is for that with on as it be are this by from at or an not was but which all file test value error result call return type string number object array function module import export const let async await promise stream buffer offset length index parse read write open close start end check update create remove handle request reply message job round builder author peer node key cache store queue state event line text output input token config option default limit timeout retry signal abort parent child process worktree commit snapshot branch merge diff patch hash tree blob path name user email greeting format render view model schema field column row table query'.split(' ')
const words = n => Array.from({ length: n }, () => pick(WORDS)).join(' ')
const id = n => Array.from({ length: n }, () => pick('0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')).join('')
const file = () => pick(['src', 'test/unit', 'test/integration', 'lib']) + '/' + pick(WORDS) + '/' + pick(WORDS) + '-' + pick(WORDS) + pick(['.ts', '.test.ts', '.js'])
const outputLine = () => {
  switch (int(8)) {
    case 0: return JSON.stringify({ type: 'assistant', id: 'msg_' + id(24), content: [{ type: 'text', text: words(6 + int(30)) }], usage: { input_tokens: int(90000), output_tokens: int(4000) } }) + '\\n'
    case 1: return JSON.stringify({ type: 'tool_use', id: 'toolu_' + id(24), name: pick(['Read', 'Edit', 'Bash', 'Grep', 'Write']), input: { file_path: file(), limit: int(400) } }) + '\\n'
    case 2: return JSON.stringify({ type: 'tool_result', tool_use_id: 'toolu_' + id(24), content: words(10 + int(60)), is_error: random() < 0.1 }) + '\\n'
    case 3: return '    at ' + pick(WORDS) + pick(['Handler', 'Store', 'Stream', '']) + '.' + pick(WORDS) + ' (file:///home/ci/project/' + file() + ':' + (1 + int(900)) + ':' + (1 + int(80)) + ')\\n'
    case 4: return new Date(1767225600000 + int(86400000)).toISOString() + ' ' + pick(['INFO', 'DEBUG', 'WARN']) + ' ' + pick(WORDS) + ': ' + words(4 + int(14)) + ' (' + int(5000) + ' ms)\\n'
    default: return ' ' + (random() < 0.95 ? '✓' : '×') + ' ' + file() + ' > ' + words(3 + int(8)) + ' ' + int(900) + 'ms\\n'
  }
}
await write('ready\\n')
while (!existsSync(spec.go)) await sleep(10)
if (spec.mode === 'ticks') {
  for (let i = 0; i < spec.lines; i++) { await write('tick ' + i + ' ' + Date.now() + '\\n'); await sleep(spec.interval) }
} else {
  const slices = spec.ms / 50
  const perSlice = Math.ceil(spec.bytes / slices)
  const started = Date.now()
  for (let i = 0; i < slices; i++) {
    let text = ''
    while (text.length < perSlice) text += outputLine()
    await flood(text)
    const next = started + (i + 1) * 50
    if (next > Date.now()) await sleep(next - Date.now())
  }
  await write('flood done\\n')
}
`

/** CPU time (user + system) a process has used, in ms (/proc/PID/stat; clock ticks of 10 ms). */
async function cpuMs (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) * 10
}

async function waitForState (socket: string, home: string, id: string, states: string[]): Promise<JobView> {
  for (;;) {
    const job = await callDaemon<JobView>(socket, home, 'show', { job: id })
    if (states.includes(job.state)) return job
    await sleep(20)
  }
}

/**
 * Live-log figures, on an author and a builder of their own on loopback: the latency from a line
 * the generator prints to `gitmesh logs -f` (the real command) printing it at the author, over
 * `lines` lines `interval` ms apart; then the builder daemon's CPU while the generator prints
 * `floodBytes` over `floodMs`, against the same daemon idle for `idleMs`.
 */
export async function measureLogs ({ lines = 60, interval = 100, floodBytes = 10 * 1024 * 1024, floodMs = 8000, idleMs = 3000, builderNodeArgs = [] as string[] } = {}): Promise<LogFigures> {
  const root = await mkdtemp(path.join(tmpdir(), 'gitmesh-bench-logs-'))
  const daemons: DaemonProcess[] = []
  try {
    const generator = path.join(root, 'generator.mjs')
    await writeFile(generator, GENERATOR)
    await runCliJson(path.join(root, 'author'), ['init'])
    await runCliJson(path.join(root, 'builder'), ['init'])
    const author = await startDaemon(path.join(root, 'author'))
    daemons.push(author)
    const builder = await startDaemon(path.join(root, 'builder'), ['--builder', '--slots', '1', '--generate', `'${process.execPath}' '${generator}'`], undefined, {}, builderNodeArgs)
    daemons.push(builder)
    await runCliJson(author.home, ['trust', builder.peerId, '--role', 'builder', '--addr', builder.addrs[0]!])
    await runCliJson(builder.home, ['trust', author.peerId, '--role', 'author', '--addr', author.addrs[0]!])
    const repo = path.join(root, 'project')
    await makeSampleProject(repo)
    const socket = path.join(author.home, 'control.sock')
    const offer = async (name: string, spec: Record<string, unknown>): Promise<JobView> =>
      await callDaemon<JobView>(socket, author.home, 'offer', { repo, name, test: 'true', attempts: 1, prompt: `${JSON.stringify(spec)}\n` })

    // Idle: the builder daemon with nothing to do, over a window of its own.
    const idleStart = await cpuMs(builder.child.pid!)
    await sleep(idleMs)
    const idleCpuPercent = (await cpuMs(builder.child.pid!) - idleStart) / idleMs * 100

    // Latency: a follower started while the generator waits; the ticks begin once it shows `ready`.
    const ticksGo = path.join(root, 'go-ticks')
    const ticks = await offer('log-latency', { mode: 'ticks', go: ticksGo, lines, interval })
    await waitForState(socket, author.home, ticks.id, ['generating'])
    const follower = spawn(process.execPath, [CLI_PATH, 'logs', ticks.id, '-f', '--json'], { env: { ...process.env, GITMESH_HOME: author.home, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'inherit'] })
    const samples: number[] = []
    const exited = new Promise<void>(resolve => follower.once('exit', () => { resolve() }))
    createInterface({ input: follower.stdout }).on('line', line => {
      const now = Date.now()
      const chunk = JSON.parse(line) as LogChunkView
      if (chunk.text.includes('ready\n')) void writeFile(ticksGo, '')
      for (const match of chunk.text.matchAll(/^tick \d+ (\d+)$/gm)) samples.push(now - Number(match[1]))
    })
    await exited
    if (samples.length < lines) throw new Error(`the follower saw ${samples.length} of ${lines} lines`)

    // CPU: the flood, from the go file until the author has the job's result (the builder sends
    // the whole log before it announces the result); then the baseline, the same flood to /dev/null.
    const floodCpu = async (name: string, sink?: string): Promise<{ percent: number, ms: number }> => {
      const go = path.join(root, `go-${name}`)
      const job = await offer(name, { mode: 'flood', go, bytes: floodBytes, ms: floodMs, ...(sink === undefined ? {} : { sink }) })
      await waitForState(socket, author.home, job.id, ['generating'])
      for (;;) {
        const view = await callDaemon<LogsView>(socket, author.home, 'logs', { job: job.id, tail: 1 })
        if (view.tail?.lines.includes('ready') === true) break
        await sleep(20)
      }
      const cpuStart = await cpuMs(builder.child.pid!)
      const started = Date.now()
      await writeFile(go, '')
      const done = await waitForState(socket, author.home, job.id, ['returned', 'failed'])
      const ms = Date.now() - started
      const percent = (await cpuMs(builder.child.pid!) - cpuStart) / ms * 100
      const last = await callDaemon<LogsView>(socket, author.home, 'logs', { job: job.id, tail: 1 })
      if (done.state !== 'returned' || last.tail?.lines.at(-1) !== 'flood done') throw new Error(`the flood did not reach the author whole (${done.state}, last line ${JSON.stringify(last.tail?.lines.at(-1))})`)
      return { percent, ms }
    }
    const flood = await floodCpu('log-flood')
    const baseline = await floodCpu('log-flood-baseline', '/dev/null')
    return { lines: samples.length, medianMs: median(samples), p95Ms: percentile(samples, 95), floodBytes, floodMs: flood.ms, builderCpuPercent: flood.percent, baselineCpuPercent: baseline.percent, idleCpuPercent }
  } finally {
    for (const daemon of daemons.reverse()) await daemon.stop().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
}
