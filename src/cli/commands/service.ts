import { existsSync } from 'node:fs'
import path from 'node:path'
import { Command, CommanderError } from 'commander'
import { commandContext } from '../context.js'
import { UsageError } from '../output.js'
import { checkDaemonFlags, daemonOptions, type DaemonFlags } from './node.js'
import { SERVICE_PLATFORMS, type ServicePlatform } from '../../service/constants.js'
import { removeServiceFile, runServiceCommands, serviceFile, shellLine, writeServiceFile } from '../../service/install.js'

/** `service install`'s own flags, wherever they stand among the daemon's; after `--` every word is the daemon's. */
interface InstallFlags {
  print: boolean
  enable: boolean
  json: boolean
  platform?: string
  daemonFlags: string[]
}

/**
 * Splits `service install`'s words: commander stops reading known options at the first unknown
 * one (a daemon flag), so ours are picked out here, before `--`; the rest are the daemon's.
 */
export function splitInstallFlags (words: string[], parsed: { print?: boolean, enable?: boolean, json?: boolean, platform?: string }): InstallFlags {
  const flags: InstallFlags = { print: parsed.print === true, enable: parsed.enable === true, json: parsed.json === true, platform: parsed.platform, daemonFlags: [] }
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    if (word === '--') {
      flags.daemonFlags.push(...words.slice(i + 1))
      break
    }
    if (word === '--print') flags.print = true
    else if (word === '--enable') flags.enable = true
    else if (word === '--json') flags.json = true
    else if (word === '--platform') flags.platform = words[++i]
    else if (word.startsWith('--platform=')) flags.platform = word.slice('--platform='.length)
    else flags.daemonFlags.push(word)
  }
  return flags
}

function platformOf (value: string | undefined): ServicePlatform {
  const platform = value ?? process.platform
  if (!(SERVICE_PLATFORMS as readonly string[]).includes(platform)) {
    throw new UsageError(value === undefined
      ? `gitmesh service writes a systemd user unit (linux) or a launchd agent (darwin); this system is ${platform}`
      : `--platform ${JSON.stringify(value)}: one of ${SERVICE_PLATFORMS.join(', ')}`)
  }
  return platform as ServicePlatform
}

/** Parses the daemon's flags as `gitmesh daemon` would, and checks them: a unit that cannot start is refused now. */
async function checkedDaemonFlags (words: string[]): Promise<DaemonFlags> {
  const daemon = daemonOptions(new Command('daemon'))
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} })
    .action(() => {})
  try {
    await daemon.parseAsync(words, { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) throw new UsageError(`daemon flags: ${err.message.replace(/^error: /, '')}${/--home/.test(err.message) ? ' (give --home before `service`: gitmesh --home DIR service install …)' : ''}`)
    throw err
  }
  const opts = daemon.opts<DaemonFlags>()
  await checkDaemonFlags(opts)
  return opts
}

export function registerServiceCommands (program: Command): void {
  const service = program.command('service')
    .description('run the daemon as a login service: a systemd user unit on Linux, a launchd agent on macOS')
    .addHelpText('after', '\nExamples:\n  gitmesh service install --builder --slots 4\n  gitmesh --home ~/.gitmesh-builder service install --print --builder\n  gitmesh service uninstall --disable')

  service.command('install')
    .description('write the service that runs `gitmesh daemon` with the flags given (and this --home, this Node.js, this PATH); print how to start it, or start it with --enable')
    .argument('[daemon-flags...]', 'flags of `gitmesh daemon` (after `--` when one is also a flag of install)')
    .option('--print', 'print the file instead of writing it')
    .option('--enable', 'also start it now and at every login (systemctl --user enable --now / launchctl bootstrap)')
    .option('--platform <platform>', `the service kind: ${SERVICE_PLATFORMS.join(' or ')} (default: this system's)`)
    .option('--json', 'print the result as JSON')
    .allowUnknownOption()
    .addHelpText('after', '\nExamples:\n  gitmesh service install\n  gitmesh service install --builder --slots 4 --agent claude\n  gitmesh service install --platform darwin --print --builder\n  gitmesh service install --enable -- --on-event \'notify-me\' --json')
    .action(async (words: string[], parsed: { print?: boolean, enable?: boolean, json?: boolean, platform?: string }, command: Command) => {
      const flags = splitInstallFlags(words, parsed)
      const { home, out: defaultOut } = commandContext(command)
      const out = flags.json ? (await import('../output.js')).createOutput(true) : defaultOut
      const platform = platformOf(flags.platform)
      if (flags.print && flags.enable) throw new UsageError('--print writes nothing, so there is nothing to --enable')
      const daemonOpts = await checkedDaemonFlags(flags.daemonFlags)
      // A service does not get the shell's exports: only PATH is written into it.
      for (const name of daemonOpts.passEnv ?? []) {
        process.stderr.write(`warning: --pass-env ${name}: the service does not get this shell's environment, so ${name} will be unset there; put it in ${home.dir}/secrets.env (KEY=value, mode 0600) instead\n`)
      }
      const file = serviceFile({ platform, home: home.dir, daemonFlags: flags.daemonFlags })
      if (flags.print) {
        out.result({ platform, file: file.file, text: file.text, written: false, enabled: false }, () => file.text.trimEnd())
        return
      }
      await writeServiceFile(file)
      if (flags.enable) await runServiceCommands(file.enable)
      out.result({ platform, file: file.file, text: file.text, written: true, enabled: flags.enable, enable: file.enable.map(shellLine) }, () => [
        `wrote ${file.file}`,
        flags.enable ? 'started; it starts again at every login' : `start it now and at every login with:\n  ${file.enable.map(shellLine).join(' && ')}`,
        platform === 'linux' ? 'its output: journalctl --user -u gitmesh -f' : `its output: ${home.dir}/daemon.log`
      ])
    })

  service.command('uninstall')
    .description('remove the service file written by `service install`')
    .option('--disable', 'first stop it and keep it from starting at login (systemctl --user disable --now / launchctl bootout)')
    .option('--platform <platform>', `the service kind: ${SERVICE_PLATFORMS.join(' or ')} (default: this system's)`)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  gitmesh service uninstall --disable\n  gitmesh service uninstall --json')
    .action(async (opts: { disable?: boolean, platform?: string }, command: Command) => {
      const { home, out } = commandContext(command)
      const file = serviceFile({ platform: platformOf(opts.platform), home: home.dir, daemonFlags: [] })
      if (opts.disable === true) {
        await runServiceCommands(file.disable)
      } else if (file.enabledMark !== undefined && existsSync(file.enabledMark)) {
        // Once the unit file is gone, systemctl can no longer disable it: its link would dangle.
        throw new UsageError(`${path.basename(file.file)} is enabled (${file.enabledMark}): \`gitmesh service uninstall --disable\` stops and disables it first`)
      }
      const removed = await removeServiceFile(file)
      out.result({ file: file.file, removed, disabled: opts.disable === true }, () => [
        removed ? `removed ${file.file}` : `${file.file} was not there`,
        ...(opts.disable === true || file.platform !== 'darwin' ? [] : [`a daemon it started keeps running until: ${file.disable.map(shellLine).join(' && ')}`])
      ])
    })
}
