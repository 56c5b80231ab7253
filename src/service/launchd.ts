import { LAUNCHD_LABEL, LAUNCHD_THROTTLE_S } from './constants.js'
import type { ServiceSpec } from './systemd.js'

/** Text as XML character data: `&`, `<`, `>` and quotes escaped; characters XML 1.0 cannot hold refused. */
export function xmlText (text: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(text)) throw new Error(`${JSON.stringify(text)} holds a control character a plist cannot carry`)
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&apos;')
}

/**
 * The launchd agent that runs the daemon: started at login (`RunAtLoad`), started again when it
 * exits with a failure (`KeepAlive` / `SuccessfulExit` false), its output appended to `logFile`.
 */
export function launchdPlist (spec: ServiceSpec & { logFile: string }): string {
  const string = (text: string): string => `<string>${xmlText(text)}</string>`
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    `  <key>Label</key>${string(LAUNCHD_LABEL)}`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    ...spec.argv.map(word => `    ${string(word)}`),
    '  </array>',
    '  <key>EnvironmentVariables</key>',
    `  <dict><key>PATH</key>${string(spec.path)}</dict>`,
    '  <key>RunAtLoad</key><true/>',
    '  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
    `  <key>ThrottleInterval</key><integer>${LAUNCHD_THROTTLE_S}</integer>`,
    `  <key>StandardOutPath</key>${string(spec.logFile)}`,
    `  <key>StandardErrorPath</key>${string(spec.logFile)}`,
    '</dict>',
    '</plist>',
    ''
  ].join('\n')
}
