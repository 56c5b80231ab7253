import { realpathSync } from 'node:fs'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { startChild } from '../process/child.js'
import { ownEnv } from '../process/environment.js'
import { LAUNCHD_LABEL, LAUNCHD_LOG_FILE, SERVICE_COMMAND_TIMEOUT_MS, SYSTEMD_UNIT, type ServicePlatform } from './constants.js'
import { launchdPlist } from './launchd.js'
import { systemdUnit } from './systemd.js'

/** The file a service is written to, its text, and the commands that start or stop it. */
export interface ServiceFile {
  platform: ServicePlatform
  file: string
  text: string
  /** What starts it now and at every login (run by `--enable`, else printed). */
  enable: string[][]
  /** What stops it and keeps it from starting at login (run by `uninstall --disable`, else printed). */
  disable: string[][]
  /** A file that exists while the service is enabled (systemd's link in default.target.wants). */
  enabledMark?: string
}

export interface ServiceFileInit {
  platform: ServicePlatform
  /** The node's home, given to the daemon as `--home`. */
  home: string
  /** `gitmesh daemon`'s flags, checked by the caller. */
  daemonFlags: string[]
  /** @default os.homedir() */
  userHome?: string
  /** @default process.env */
  env?: NodeJS.ProcessEnv
  /** The `gitmesh` entry point. @default this process's script, resolved */
  cli?: string
}

/**
 * The service that runs `gitmesh --home HOME daemon FLAGS` with this Node.js and this CLI (absolute
 * paths, so an upgrade of either in place is what runs), and the PATH of the shell it was installed
 * from: the daemon then finds the coding agents its generators call as the user's shell does.
 */
export function serviceFile (init: ServiceFileInit): ServiceFile {
  const env = init.env ?? process.env
  const userHome = init.userHome ?? os.homedir()
  const cli = init.cli ?? realpathSync(process.argv[1]!)
  const spec = { argv: [process.execPath, cli, '--home', path.resolve(init.home), 'daemon', ...init.daemonFlags], path: env.PATH ?? '/usr/local/bin:/usr/bin:/bin', home: path.resolve(init.home) }
  if (init.platform === 'darwin') {
    const file = path.join(userHome, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`)
    const domain = `gui/${os.userInfo().uid}`
    return {
      platform: 'darwin',
      file,
      text: launchdPlist({ ...spec, logFile: path.join(spec.home, LAUNCHD_LOG_FILE) }),
      enable: [['launchctl', 'bootstrap', domain, file]],
      disable: [['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`]]
    }
  }
  // systemd's user units live under $XDG_CONFIG_HOME, ~/.config when it is not set.
  const configHome = env.XDG_CONFIG_HOME !== undefined && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(userHome, '.config')
  const unit = SYSTEMD_UNIT.replace(/\.service$/, '')
  return {
    platform: 'linux',
    file: path.join(configHome, 'systemd', 'user', SYSTEMD_UNIT),
    text: systemdUnit(spec),
    enable: [['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', unit]],
    disable: [['systemctl', '--user', 'disable', '--now', unit]],
    enabledMark: path.join(configHome, 'systemd', 'user', 'default.target.wants', SYSTEMD_UNIT)
  }
}

/** Writes the service file (through a temporary file and a rename: never half a unit). */
export async function writeServiceFile (service: ServiceFile): Promise<void> {
  await mkdir(path.dirname(service.file), { recursive: true })
  const temporary = `${service.file}.${process.pid}.tmp`
  await writeFile(temporary, service.text, { mode: 0o644 })
  await rename(temporary, service.file)
}

export async function removeServiceFile (service: ServiceFile): Promise<boolean> {
  try {
    await rm(service.file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/** A command line as a person would type it (for the next-step hint). */
export function shellLine (argv: string[]): string {
  return argv.map(word => /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`).join(' ')
}

/**
 * Runs `systemctl`/`launchctl` commands in order, as the user (their environment: `systemctl
 * --user` needs the session's bus); stops at the first that fails, saying which and why.
 */
export async function runServiceCommands (commands: string[][]): Promise<void> {
  for (const [file, ...args] of commands) {
    const running = startChild({ file: file!, args, env: ownEnv(), stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', timeoutMs: SERVICE_COMMAND_TIMEOUT_MS })
    let stderr = ''
    running.child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8') })
    let exit
    try {
      exit = await running.exit
    } catch (err) {
      throw new Error(`could not run ${file!}: ${(err as Error).message}`)
    }
    if (exit.exitCode !== 0) throw new Error(`\`${shellLine([file!, ...args])}\` failed${exit.timedOut ? ' (timed out)' : ` (exit ${exit.exitCode ?? exit.signal ?? '?'})`}: ${stderr.trim()}`)
  }
}
