import { RESTART_DELAY_S } from './constants.js'

/** What a service runs: the program and its arguments, and the PATH it gets. */
export interface ServiceSpec {
  /** Absolute path of the program (this Node.js), then its arguments, unquoted. */
  argv: string[]
  /** PATH for the daemon, so the agents a generator calls are found as in the user's shell. */
  path: string
  /** The node's home, for the description. */
  home: string
}

/**
 * One word of an `ExecStart=` line, quoted by systemd's rules (systemd.service, "Command lines"):
 * double quotes around it, `\` and `"` escaped, `%` doubled (specifiers) and `$` doubled
 * (environment variable substitution), newlines and tabs as C escapes.
 */
export function systemdWord (word: string): string {
  const escaped = word
    .replaceAll('\\', '\\\\')
    .replaceAll('"', '\\"')
    .replaceAll('\n', '\\n')
    .replaceAll('\t', '\\t')
    .replaceAll('%', '%%')
    .replaceAll('$', '$$$$')
  return `"${escaped}"`
}

/**
 * An `Environment=` assignment: one quoted `NAME=value`. systemd expands specifiers (`%`) in it
 * but not variables (`$` stays as it is).
 */
export function systemdEnvironment (name: string, value: string): string {
  const escaped = `${name}=${value}`.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n').replaceAll('%', '%%')
  return `"${escaped}"`
}

/** The systemd user unit that runs the daemon: restarted when it fails, started at login. */
export function systemdUnit (spec: ServiceSpec): string {
  return [
    '[Unit]',
    // %% : the description takes specifiers too.
    `Description=gitmesh daemon (home ${spec.home.replaceAll('%', '%%')})`,
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${spec.argv.map(systemdWord).join(' ')}`,
    `Environment=${systemdEnvironment('PATH', spec.path)}`,
    'Restart=on-failure',
    `RestartSec=${RESTART_DELAY_S}`,
    '',
    '[Install]',
    'WantedBy=default.target',
    ''
  ].join('\n')
}
