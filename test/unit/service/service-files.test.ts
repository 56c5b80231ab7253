import { describe, expect, it } from 'vitest'
import { launchdPlist, xmlText } from '../../../src/service/launchd.js'
import { systemdUnit, systemdWord } from '../../../src/service/systemd.js'
import { serviceFile } from '../../../src/service/install.js'
import { splitInstallFlags } from '../../../src/cli/commands/service.js'

const spec = {
  argv: ['/usr/bin/node', '/opt/gitmesh/dist/cli/main.js', '--home', '/home/ada/.gitmesh', 'daemon', '--builder', '--generate', 'claude -p < "$GITMESH_PROMPT_FILE" # 100% \\ done'],
  path: '/home/ada/bin:/usr/bin:/bin',
  home: '/home/ada/.gitmesh'
}

describe('systemd user unit', () => {
  it('quotes every ExecStart word by systemd\'s rules: quotes and backslashes escaped, % and $ doubled', () => {
    expect(systemdWord('plain')).toBe('"plain"')
    expect(systemdWord('a b')).toBe('"a b"')
    expect(systemdWord('say "hi"')).toBe('"say \\"hi\\""')
    expect(systemdWord('$HOME 100%')).toBe('"$$HOME 100%%"')
    expect(systemdWord('back\\slash')).toBe('"back\\\\slash"')
    expect(systemdWord('two\nlines')).toBe('"two\\nlines"')
  })

  it('runs the daemon with its flags, restarts it on failure, starts at login, with the PATH it was installed from', () => {
    const unit = systemdUnit(spec)
    const lines = unit.split('\n')
    expect(lines).toContain('ExecStart="/usr/bin/node" "/opt/gitmesh/dist/cli/main.js" "--home" "/home/ada/.gitmesh" "daemon" "--builder" "--generate" "claude -p < \\"$$GITMESH_PROMPT_FILE\\" # 100%% \\\\ done"')
    expect(lines).toContain('Environment="PATH=/home/ada/bin:/usr/bin:/bin"')
    expect(lines).toContain('Restart=on-failure')
    expect(lines).toContain('WantedBy=default.target')
    expect(lines[0]).toBe('[Unit]')
  })

  it('is written under $XDG_CONFIG_HOME, else ~/.config, and enabled with systemctl --user', () => {
    const base = { platform: 'linux' as const, home: '/h', daemonFlags: [], userHome: '/home/ada', cli: '/opt/cli.js' }
    expect(serviceFile({ ...base, env: { PATH: '/bin' } }).file).toBe('/home/ada/.config/systemd/user/gitmesh.service')
    const xdg = serviceFile({ ...base, env: { PATH: '/bin', XDG_CONFIG_HOME: '/cfg' } })
    expect(xdg.file).toBe('/cfg/systemd/user/gitmesh.service')
    expect(xdg.enable).toEqual([['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', 'gitmesh']])
    expect(xdg.text).toContain(`ExecStart="${process.execPath}" "/opt/cli.js" "--home" "/h" "daemon"`)
  })
})

describe('launchd agent', () => {
  it('escapes XML and refuses what a plist cannot hold', () => {
    expect(xmlText('a & <b> "c" \'d\'')).toBe('a &amp; &lt;b&gt; &quot;c&quot; &apos;d&apos;')
    expect(() => xmlText('bell\u0007')).toThrow(/control character/)
  })

  it('lists the daemon\'s arguments one per string, keeps it alive on failure, logs into the home', () => {
    const plist = launchdPlist({ ...spec, argv: [...spec.argv, '--on-event', 'a && b < c'], logFile: '/home/ada/.gitmesh/daemon.log' })
    expect(plist).toContain('<key>Label</key><string>dev.gitmesh.daemon</string>')
    expect(plist).toContain('    <string>claude -p &lt; &quot;$GITMESH_PROMPT_FILE&quot; # 100% \\ done</string>')
    expect(plist).toContain('    <string>a &amp;&amp; b &lt; c</string>')
    expect(plist).toContain('<key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>')
    expect(plist).toContain('<key>StandardErrorPath</key><string>/home/ada/.gitmesh/daemon.log</string>')
    expect(serviceFile({ platform: 'darwin', home: '/h', daemonFlags: [], userHome: '/Users/ada', cli: '/c.js', env: {} }).file).toBe('/Users/ada/Library/LaunchAgents/dev.gitmesh.daemon.plist')
  })
})

describe('service install\'s words', () => {
  it('picks out its own flags anywhere before --, and leaves the rest to the daemon', () => {
    expect(splitInstallFlags(['--builder', '--print', '--slots', '2', '--platform', 'darwin'], {})).toEqual({ print: true, enable: false, json: false, platform: 'darwin', daemonFlags: ['--builder', '--slots', '2'] })
    expect(splitInstallFlags(['--builder', '--', '--json', '--print'], { enable: true })).toEqual({ print: false, enable: true, json: false, platform: undefined, daemonFlags: ['--builder', '--json', '--print'] })
  })
})
