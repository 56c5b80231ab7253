import net from 'node:net'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { GitmeshNode } from '../net/node.js'
import type { SendJobMessage } from '../jobs/wire.js'
import type { Role, TrustStore, TrustedPeer } from '../store/trust-store.js'
import type { Builder } from '../builder/builder.js'
import { DOCTOR_COMMAND_TIMEOUT_MS, DOCTOR_LISTEN_PROBE_MS, DOCTOR_PEER_TIMEOUT_MS } from './constants.js'
import type { DoctorCheck } from './views.js'
import { runCommand, type CommandOutcome } from '../process/run-command.js'
import { agentPreset, type AgentPreset } from '../agents/index.js'
import { describeCommandEnvironment } from '../builder/command-env.js'

export interface DoctorContext {
  node: GitmeshNode
  trust: TrustStore
  send: SendJobMessage
  builder?: Builder
}

/**
 * What `gitmesh doctor` asks the daemon: can its own listen addresses be reached, is every trusted
 * peer connected and does it trust this node back with the role the work needs, and what a
 * builder's commands will run with. Each finding carries what to do about it.
 */
export async function diagnose (ctx: DoctorContext): Promise<DoctorCheck[]> {
  const [listen, peers] = await Promise.all([
    checkListenAddresses(ctx.node),
    Promise.all(ctx.trust.list().map(async peer => await checkPeer(ctx, peer)))
  ])
  return [...listen, ...peers.flat(), ...(ctx.builder === undefined ? [] : await checkBuilder(ctx.builder))]
}

/** The TCP host and port of a listen address, or undefined for other transports. */
function tcpEndpoint (addr: string): { host: string, port: number } | undefined {
  const parts = multiaddr(addr).getComponents()
  const host = parts.find(p => p.name === 'ip4' || p.name === 'ip6' || p.name === 'dns4' || p.name === 'dns6' || p.name === 'dns')?.value
  const port = parts.find(p => p.name === 'tcp')?.value
  if (host === undefined || port === undefined) return undefined
  return { host, port: Number(port) }
}

function isLoopback (host: string): boolean {
  return host === '::1' || host.startsWith('127.') || host === 'localhost'
}

async function checkListenAddresses (node: GitmeshNode): Promise<DoctorCheck[]> {
  const addrs = node.getMultiaddrs().map(ma => ma.toString().replace(/\/p2p\/[^/]+$/, ''))
  if (addrs.length === 0) {
    return [{ area: 'network', subject: 'listen', status: 'fail', detail: 'the node listens on no address', fix: 'start the daemon with --listen /ip4/0.0.0.0/tcp/4100 (or set "listen" in config.json)' }]
  }
  const checks = await Promise.all(addrs.map(async (addr): Promise<DoctorCheck> => {
    const endpoint = tcpEndpoint(addr)
    if (endpoint === undefined) return { area: 'network', subject: addr, status: 'ok', detail: 'listening (not a TCP address: not probed)' }
    const error = await probeTcp(endpoint.host, endpoint.port)
    return error === undefined
      ? { area: 'network', subject: addr, status: 'ok', detail: 'accepts connections' }
      : { area: 'network', subject: addr, status: 'fail', detail: `does not accept connections from this machine (${error})`, fix: 'a firewall on this machine blocks the port, or the address is gone: restart the daemon, or pick another --listen address' }
  }))
  if (addrs.every(addr => isLoopback(tcpEndpoint(addr)?.host ?? ''))) {
    checks.push({ area: 'network', subject: 'listen', status: 'warn', detail: 'the node listens on loopback only: peers on other machines cannot reach it', fix: 'listen on all interfaces: gitmesh daemon --listen /ip4/0.0.0.0/tcp/4100' })
  }
  return checks
}

/** Resolves undefined when a TCP connection to host:port opens within the probe time, else the reason. */
async function probeTcp (host: string, port: number): Promise<string | undefined> {
  return await new Promise(resolve => {
    const socket = net.connect({ host, port, timeout: DOCTOR_LISTEN_PROBE_MS })
    socket.once('connect', () => { socket.destroy(); resolve(undefined) })
    socket.once('timeout', () => { socket.destroy(); resolve(`no answer within ${DOCTOR_LISTEN_PROBE_MS} ms`) })
    socket.once('error', err => { socket.destroy(); resolve((err as NodeJS.ErrnoException).code ?? err.message) })
  })
}

/** The role a peer must give us back for the role we give it: we offer jobs to a builder as its author, and run an author's jobs as its builder. */
const ROLE_BACK: Record<Role, Role> = { builder: 'author', author: 'builder' }

async function checkPeer (ctx: DoctorContext, peer: TrustedPeer): Promise<DoctorCheck[]> {
  const self = ctx.node.peerId.toString()
  const subject = peer.peerId
  const needed = peer.roles.map(role => ROLE_BACK[role])
  const signal = AbortSignal.timeout(DOCTOR_PEER_TIMEOUT_MS)
  try {
    if (ctx.node.getConnections(peerIdFromString(peer.peerId)).length === 0) {
      await ctx.node.dial(peerIdFromString(peer.peerId), { signal })
    }
  } catch (err) {
    return [{
      area: 'peer',
      subject,
      status: peer.roles.length === 0 ? 'warn' : 'fail',
      detail: `trusted as ${describeRoles(peer.roles)}, not reachable (${reasonOf(err)})`,
      fix: peer.addrs.length === 0
        ? `give its address: gitmesh trust ${peer.peerId} --addr /ip4/HOST/tcp/PORT`
        : `is its daemon running? known addresses: ${peer.addrs.join(' ')}; correct one with gitmesh trust ${peer.peerId} --addr MULTIADDR`
    }]
  }
  let theirs: Role[]
  try {
    const reply = await ctx.send(peer.peerId, { type: 'roles' }, { signal })
    if (reply.type === 'decline') {
      return [{ area: 'peer', subject, status: 'warn', detail: `connected; trusted as ${describeRoles(peer.roles)}; it did not say how it trusts this node (${reply.code}: ${reply.message})`, fix: 'it may run an older gitmesh: upgrade it to check' }]
    }
    theirs = reply.roles ?? []
  } catch (err) {
    // A node that does not trust us closes the connection as soon as it sees who we are.
    return [{
      area: 'peer',
      subject,
      status: needed.length === 0 ? 'warn' : 'fail',
      detail: `trusted as ${describeRoles(peer.roles)}, but it hangs up on this node: it probably does not trust it (${reasonOf(err)})`,
      ...(needed.length === 0 ? {} : { fix: `on that node run: gitmesh trust ${self} ${needed.map(role => `--role ${role}`).join(' ')} --addr ADDRESS_OF_THIS_NODE` })
    }]
  }
  const missing = needed.filter(role => !theirs.includes(role))
  if (missing.length > 0) {
    return [{
      area: 'peer',
      subject,
      status: 'fail',
      detail: `connected; trusted here as ${describeRoles(peer.roles)}, but it trusts this node as ${describeRoles(theirs)}, not as ${missing.join(' and ')}`,
      fix: `on that node run: gitmesh trust ${self} ${missing.map(role => `--role ${role}`).join(' ')}`
    }]
  }
  return [{ area: 'peer', subject, status: 'ok', detail: `connected; trusted here as ${describeRoles(peer.roles)}, trusts this node as ${describeRoles(theirs)}` }]
}

function describeRoles (roles: readonly string[]): string {
  return roles.length === 0 ? 'no role' : roles.join(' and ')
}

/** What a builder's jobs will run: the generator, whether its program is found on the PATH its commands get, and a preset's version and key. */
async function checkBuilder (builder: Builder): Promise<DoctorCheck[]> {
  const { command, agent } = builder.generator
  const program = firstWord(command)
  const checks: DoctorCheck[] = [{ area: 'builder', subject: 'slots', status: 'ok', detail: `runs ${builder.slots} job${builder.slots === 1 ? '' : 's'} at once` }]
  const run = async (line: string, env: Record<string, string> = {}): Promise<CommandOutcome> =>
    await runCommand({ command: line, cwd: process.cwd(), env, baseEnv: builder.environment?.variables, timeoutMs: DOCTOR_COMMAND_TIMEOUT_MS })
  if (program === undefined) {
    checks.push({ area: 'builder', subject: 'generator', status: 'warn', detail: `cannot tell which program runs: ${command}` })
  } else {
    // Resolved as the generator itself would be: by the shell, with the environment jobs get.
    const found = await run('command -v "$GITMESH_DOCTOR_PROGRAM"', { GITMESH_DOCTOR_PROGRAM: program })
    checks.push(found.exitCode === 0
      ? { area: 'builder', subject: 'generator', status: 'ok', detail: `${agent === undefined ? '' : `agent ${agent}: `}${command} (${program} is ${found.output.trim()})` }
      : { area: 'builder', subject: 'generator', status: 'fail', detail: `${command}: ${program} is not found on the PATH jobs get`, fix: 'install it, add its folder to the PATH jobs get (daemon --path, or "builder": { "path": [...] } in config.json), or give its absolute path in --generate' })
    if (found.exitCode === 0 && agent !== undefined) checks.push(...await checkAgent(agentPreset(agent), builder, run))
  }
  checks.push(...checkEnvironment(builder))
  return checks
}

/** A preset's version as the agent reports it with the jobs' environment, and whether any of its key variables reaches it. */
async function checkAgent (preset: AgentPreset, builder: Builder, run: (line: string) => Promise<CommandOutcome>): Promise<DoctorCheck[]> {
  const ran = await run(preset.versionCommand)
  // It ran with the jobs' secrets in its environment: what it printed is masked like job output.
  const version = { ...ran, output: builder.environment?.masker.mask(ran.output) ?? ran.output }
  const checks: DoctorCheck[] = [version.exitCode === 0
    ? { area: 'builder', subject: 'agent', status: 'ok', detail: `${preset.versionCommand}: ${version.output.trim().split('\n')[0]?.slice(0, 200) ?? ''}` }
    : { area: 'builder', subject: 'agent', status: 'fail', detail: `${preset.versionCommand} ${version.timedOut ? 'timed out' : `exited with ${version.exitCode ?? version.signal ?? 'an error'}`}: ${version.output.trim().slice(-200)}`, fix: `run \`${preset.versionCommand}\` as the daemon's user to see what is wrong` }]
  const passed = builder.environment === undefined ? [] : describeCommandEnvironment(builder.environment).variables
  if (preset.keyEnv.length > 0 && !preset.keyEnv.some(name => passed.includes(name))) {
    checks.push({
      area: 'builder',
      subject: 'agent key',
      status: 'warn',
      detail: `none of ${preset.keyEnv.join(', ')} reaches the agent: it must find a login of its own under HOME`,
      fix: `pass the key: gitmesh daemon --builder --agent ${preset.name} --pass-env ${preset.keyEnv[0] ?? 'NAME'} (or put it in <home>/secrets.env, mode 0600)`
    })
  }
  return checks
}

/** What the agent sees: the PATH and the names (never the values) of the variables its commands get, and the warnings of the daemon's start. */
function checkEnvironment (builder: Builder): DoctorCheck[] {
  const environment = builder.environment
  if (environment === undefined) return []
  const { path, variables } = describeCommandEnvironment(environment)
  return [
    { area: 'builder', subject: 'PATH', status: 'ok', detail: `job commands get PATH=${path ?? '(none)'}` },
    { area: 'builder', subject: 'environment', status: 'ok', detail: `job commands get ${variables.filter(name => name !== 'PATH').join(', ') || 'no variables'} and their job's GITMESH_* variables` },
    ...environment.warnings.map((warning): DoctorCheck => ({ area: 'builder', subject: 'environment', status: 'warn', detail: warning, fix: 'change --pass-env/--path or the config\'s "builder" section, or the daemon\'s environment, and restart the daemon' }))
  ]
}

/** The program a shell command line starts, when it is a plain word (quotes removed); undefined for anything cleverer. */
export function firstWord (command: string): string | undefined {
  const match = /^\s*(?:'([^']+)'|"([^"$`\\]+)"|([^\s'"$`;&|<>()]+))/.exec(command)
  const word = match?.[1] ?? match?.[2] ?? match?.[3]
  // A variable assignment (`FOO=1 cmd`) or a shell keyword means the command is not a plain call.
  if (word === undefined || word.includes('=')) return undefined
  return word
}

/** The first line of an error's message, whatever was thrown. */
function reasonOf (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return (message.split('\n')[0] ?? '').trim() || (err instanceof Error ? err.name : 'unknown error')
}
