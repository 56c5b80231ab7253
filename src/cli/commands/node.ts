import type { Command } from 'commander'
import { commandContext } from '../context.js'
import { collect, parseDuration, wholeNumber } from '../options.js'
import { pc, table, UsageError } from '../output.js'
import { MAX_COMMAND_TIMEOUT_MS, MAX_TAGS } from '../../jobs/constants.js'
import { HOOK_EVENTS, MAX_HOOK_COMMAND_CHARS, MAX_HOOKS } from '../../notify/constants.js'
import { AGENT_NAMES, UnknownAgentError } from '../../agents/index.js'
import type { IdView, PeerView } from '../../daemon/views.js'
import { MAX_PASSED_ENV_NAMES, MAX_PATH_DIRS } from '../../builder/constants.js'
import { pathDirProblem, variableNameProblem } from '../../builder/environment-rules.js'

/** Checks `--pass-env` names and splits `--path` into folders, saying exactly what is wrong. */
function commandEnvironmentFlags (names: string[] | undefined, dirs: string | undefined): { passEnv?: string[], path?: string[] } {
  if ((names?.length ?? 0) > MAX_PASSED_ENV_NAMES) throw new UsageError(`at most ${MAX_PASSED_ENV_NAMES} --pass-env`)
  for (const name of names ?? []) {
    const problem = variableNameProblem(name)
    if (problem !== undefined) throw new UsageError(`--pass-env: ${problem}`)
  }
  const path = dirs?.split(':')
  if ((path?.length ?? 0) > MAX_PATH_DIRS) throw new UsageError(`--path: at most ${MAX_PATH_DIRS} folders`)
  for (const dir of path ?? []) {
    const problem = pathDirProblem(dir)
    if (problem !== undefined) throw new UsageError(`--path: ${problem}`)
  }
  return { passEnv: names, path }
}

/** The flags of `gitmesh daemon`, as commander gives them. */
export interface DaemonFlags {
  listen?: string[]
  peer?: string[]
  builder?: boolean
  slots?: number
  generate?: string
  agent?: string
  tag?: string[]
  generateTimeout?: number
  idleTimeout?: number
  passEnv?: string[]
  path?: string
  onEvent?: string[]
  notify?: boolean
}

/**
 * Declares `gitmesh daemon`'s flags on `command`: the daemon itself, and `gitmesh service install`,
 * which checks the flags it writes into a unit by parsing them the same way.
 */
export function daemonOptions (command: Command): Command {
  return command
    .description('run the node in the foreground until SIGINT or SIGTERM')
    .option('--listen <multiaddr>', 'address to listen on (repeatable; default: a free TCP port on all interfaces)', collect)
    .option('--peer <multiaddr>', 'peer to dial at start (repeatable)', collect)
    .option('--builder', 'run jobs for peers trusted as authors')
    .option('--slots <n>', 'jobs run at once (default: half the cores, at least 1)', wholeNumber('--slots'))
    .option('--generate <command>', 'the generator command, judged by its exit code (default: the built-in fenced-block generator)')
    .option('--agent <name>', `run a coding agent through its preset: ${AGENT_NAMES.join(', ')} (docs/generators.md)`)
    .option('--tag <tag>', 'a label authors can ask for with `--builder TAG` (repeatable)', collect)
    .option('--generate-timeout <duration>', 'generator time limit for projects whose gitmesh.json sets no timeouts.generate (default: 60m)', parseDuration)
    .option('--idle-timeout <duration>', 'stop a generator that writes nothing this long, for projects whose gitmesh.json sets no timeouts.idle (default: 15m)', parseDuration)
    .option('--pass-env <name>', 'pass this variable of the daemon\'s environment to job commands, masked in output (repeatable; adds to the config\'s builder.passEnv)', collect)
    .option('--path <dirs>', 'the job commands\' PATH: absolute folders or ~/…, separated by \':\' (replaces the config\'s builder.path; default: the daemon\'s PATH)')
    .option('--on-event <command>', 'run this shell command when a job returns, fails or merges with conflicts, the job\'s JSON on stdin (repeatable; besides the config\'s `hooks`)', collect)
    .option('--no-notify', 'no desktop notification (notify-send, osascript) on those events')
    .option('--json', 'print the ready line as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh daemon\n  gitmesh daemon --listen /ip4/0.0.0.0/tcp/4100 --peer /ip4/192.168.1.20/tcp/4100/p2p/12D3KooW...\n  gitmesh daemon --builder --slots 4 --agent claude --pass-env ANTHROPIC_API_KEY\n  gitmesh daemon --builder --generate \'my-agent "$GITMESH_PROMPT_FILE"\'\n  gitmesh daemon --builder --agent claude --generate-timeout 45m --idle-timeout 10m\n  gitmesh daemon --builder --agent codex --pass-env CODEX_API_KEY --path ~/.local/bin:/usr/local/bin:/usr/bin:/bin\n  gitmesh daemon --on-event \'jq -r "\\(.event) \\(.name)" >> ~/gitmesh-events.log\' --no-notify\n  (docs/generators.md: plugging in coding agents; keys can also go in <home>/secrets.env, mode 0600; docs/guide.md: knowing when to look)')
}

/** Refuses daemon flags that cannot work, naming the flag. */
export async function checkDaemonFlags (opts: DaemonFlags): Promise<void> {
  if (opts.slots !== undefined && (!Number.isInteger(opts.slots) || opts.slots < 1)) throw new UsageError('--slots must be a positive whole number')
  if (opts.builder !== true && (opts.slots !== undefined || opts.generate !== undefined || opts.agent !== undefined || opts.tag !== undefined || opts.passEnv !== undefined || opts.path !== undefined || opts.generateTimeout !== undefined || opts.idleTimeout !== undefined)) {
    throw new UsageError('--slots, --generate, --agent, --tag, --pass-env, --path, --generate-timeout and --idle-timeout need --builder')
  }
  for (const [flag, value] of [['--generate-timeout', opts.generateTimeout], ['--idle-timeout', opts.idleTimeout]] as const) {
    if (value !== undefined && (value < 1000 || value > MAX_COMMAND_TIMEOUT_MS)) throw new UsageError(`${flag} must be between 1s and ${MAX_COMMAND_TIMEOUT_MS / 3_600_000}h, such as 45m`)
  }
  if (opts.generate !== undefined && opts.agent !== undefined) throw new UsageError('give one of --agent NAME or --generate COMMAND, not both')
  if (opts.agent !== undefined && !AGENT_NAMES.includes(opts.agent)) throw new UsageError(new UnknownAgentError(opts.agent).message)
  commandEnvironmentFlags(opts.passEnv, opts.path)
  if ((opts.tag?.length ?? 0) > MAX_TAGS) throw new UsageError(`at most ${MAX_TAGS} --tag`)
  for (const tag of opts.tag ?? []) {
    if (!/^[a-z0-9][a-z0-9._-]{0,63}$/i.test(tag)) throw new UsageError(`--tag ${JSON.stringify(tag)}: letters, digits, '.', '_' and '-', at most 64`)
  }
  const { multiaddr } = await import('@multiformats/multiaddr')
  for (const [flag, values] of [['--listen', opts.listen], ['--peer', opts.peer]] as const) {
    for (const value of values ?? []) {
      try {
        multiaddr(value)
      } catch (err) {
        throw new UsageError(`${flag} ${JSON.stringify(value)} is not a multiaddr (${(err as Error).message}); for example /ip4/0.0.0.0/tcp/4100`)
      }
    }
  }
  if ((opts.onEvent?.length ?? 0) > MAX_HOOKS) throw new UsageError(`at most ${MAX_HOOKS} --on-event`)
  for (const run of opts.onEvent ?? []) {
    if (run.trim() === '' || run.length > MAX_HOOK_COMMAND_CHARS) throw new UsageError(`--on-event needs a command of 1 to ${MAX_HOOK_COMMAND_CHARS} characters`)
  }
}

export function registerNodeCommands (program: Command): void {
  program.command('init')
    .description('create the node\'s home: identity key, config and database (re-running changes nothing)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh init\n  gitmesh init --home ~/.gitmesh-builder --json')
    .action(async (_opts, command: Command) => {
      const { home, out } = commandContext(command)
      const { created, peerId } = await home.init()
      out.result({ home: home.dir, peerId, created }, () =>
        created ? `initialized ${home.dir}\npeer id ${peerId}` : `${home.dir} is already initialized\npeer id ${peerId}`)
    })

  daemonOptions(program.command('daemon'))
    .action(async (opts: DaemonFlags, command: Command) => {
      const { home, out } = commandContext(command)
      await checkDaemonFlags(opts)
      const { passEnv, path } = commandEnvironmentFlags(opts.passEnv, opts.path)
      const { Daemon } = await import('../../daemon/daemon.js')
      const daemon = await Daemon.start(home, {
        listen: opts.listen,
        peers: opts.peer,
        builder: opts.builder === true ? { slots: opts.slots, generate: opts.generate, agent: opts.agent, tags: opts.tag, passEnv, path, generateTimeoutMs: opts.generateTimeout, idleTimeoutMs: opts.idleTimeout } : undefined,
        onWarning: message => { process.stderr.write(`warning: ${message}\n`) },
        hooks: (opts.onEvent ?? []).map(run => ({ on: [...HOOK_EVENTS], run })),
        // Without the flag, the config says (commander's default for `--no-notify` is true).
        notify: opts.notify === false ? false : undefined,
        // A hook is the user's: what went wrong with it goes where the user (or journald) reads.
        onHookProblem: problem => { process.stderr.write(`gitmesh: ${problem.command === 'desktop notification' ? problem.command : `hook \`${problem.command}\``} for ${problem.event} of ${problem.job}: ${problem.problem}\n`) }
      })
      // The signal handlers go in before the ready line goes out: whoever waits for that line may
      // stop the daemon at once, and a SIGTERM with no handler yet would kill it uncleanly.
      const stopped = new Promise<void>(resolve => {
        const shutdown = (): void => {
          process.off('SIGINT', shutdown)
          process.off('SIGTERM', shutdown)
          resolve()
        }
        process.on('SIGINT', shutdown)
        process.on('SIGTERM', shutdown)
      })
      const ready = { event: 'ready', peerId: daemon.node.peerId.toString(), addrs: daemon.addrs, socket: home.socketPath }
      // One line either way: scripts wait for it, and with --json it is a JSON object on one line.
      process.stdout.write((out.json ? JSON.stringify(ready) : `gitmesh daemon ready: peer ${ready.peerId} listening on ${ready.addrs.join(' ')}`) + '\n')
      // A notice per result that arrives (and per job that fails), on the daemon's output.
      daemon.author.on('job', job => {
        if (job.state !== 'returned' && job.state !== 'failed') return
        const notice = { event: job.state === 'returned' ? 'result' : 'failed', job: job.name, id: job.id, commit: job.result?.commit ?? null, passed: job.result?.passed ?? null, builder: job.result?.builder ?? job.builder ?? null, reason: job.reason ?? null }
        process.stdout.write((out.json
          ? JSON.stringify(notice)
          : job.state === 'returned'
            ? `result: ${job.name} from …${(notice.builder ?? '').slice(-6)}, tests ${job.result?.passed === true ? 'pass' : 'fail'} (${job.result?.commit.slice(0, 10)}); review with \`gitmesh diff ${job.name}\``
            : `failed: ${job.name}: ${job.reason ?? 'no result'}`) + '\n')
      })
      await stopped
      await daemon.stop()
      if (!out.json) process.stdout.write('gitmesh daemon stopped\n')
    })

  program.command('id')
    .description('show this node\'s peer id and listen addresses')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh id\n  gitmesh id --json | jq -r .addrs[0]')
    .action(async (_opts, command: Command) => {
      const { out, call } = commandContext(command)
      const id = await call<IdView>('id')
      out.result(id, () => [`peer id ${id.peerId}`, ...id.addrs.map(a => `  ${a}`)])
    })

  program.command('peers')
    .description('list trusted peers: roles, connection, addresses and last round-trip time')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh peers\n  gitmesh peers --json')
    .action(async (_opts, command: Command) => {
      const { out, call } = commandContext(command)
      const peers = await call<PeerView[]>('peers')
      out.result(peers, () => peers.length === 0
        ? 'no trusted peers: add one with `gitmesh trust PEER_ID --addr MULTIADDR`'
        : table(['peer', 'roles', 'connected', 'rtt', 'addresses'], peers.map(p => [
          p.peerId,
          p.roles.join(',') || '-',
          p.connected ? pc.green('yes') : pc.dim('no'),
          p.lastRttMs === null ? '-' : `${p.lastRttMs} ms`,
          p.addrs.join('\n') || '-'
        ])))
    })
}
