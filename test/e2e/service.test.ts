import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CLI_PATH } from '../../src/demo/processes.js'

/** Whether a program is on PATH: the oracles below are used where the system has them. */
const has = (program: string): boolean => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0

const GENERATE = 'claude -p < "$GITMESH_PROMPT_FILE" && echo \'100% done\' \\ <ok>'

describe('gitmesh service install writes a unit that runs this daemon with the flags given', () => {
  let root: string
  let userHome: string
  let nodeHome: string

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'gitmesh-service-'))
    userHome = path.join(root, 'user')
    nodeHome = path.join(root, 'node home')
    await mkdir(userHome)
  })
  afterAll(async () => { await rm(root, { recursive: true, force: true }) })

  /** `gitmesh --home NODE_HOME ARGS` as a user whose home is the temporary one. */
  function gitmesh (args: string[]): { code: number, stdout: string, stderr: string } {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: userHome, NO_COLOR: '1', PATH: `/opt/agents/bin:${process.env.PATH ?? ''}` }
    delete env.XDG_CONFIG_HOME
    delete env.GITMESH_HOME
    const result = spawnSync(process.execPath, [CLI_PATH, '--home', nodeHome, ...args], { env, encoding: 'utf8' })
    return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
  }

  it('on Linux: a systemd user unit under ~/.config/systemd/user, with the next step printed', async () => {
    const installed = gitmesh(['service', 'install', '--platform', 'linux', '--builder', '--slots', '2', '--generate', GENERATE])
    expect(installed.stderr).toBe('')
    expect(installed.code).toBe(0)
    const file = path.join(userHome, '.config', 'systemd', 'user', 'gitmesh.service')
    expect(installed.stdout).toContain(`wrote ${file}`)
    expect(installed.stdout).toContain('systemctl --user daemon-reload && systemctl --user enable --now gitmesh')
    const unit = await readFile(file, 'utf8')
    const cli = realpathSync(CLI_PATH)
    expect(unit).toContain(`ExecStart="${process.execPath}" "${cli}" "--home" "${nodeHome}" "daemon" "--builder" "--slots" "2" "--generate" "claude -p < \\"$$GITMESH_PROMPT_FILE\\" && echo '100%% done' \\\\ <ok>"\n`)
    expect(unit).toContain('Environment="PATH=/opt/agents/bin:')
    expect(unit).toContain('Restart=on-failure\n')
    if (has('systemd-analyze')) {
      // systemd's own parser as the oracle: the unit loads, its ExecStart parses.
      const verified = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 20_000 })
      expect(verified.stderr.split('\n').filter(line => line.includes('gitmesh.service'))).toEqual([])
      expect(verified.status).toBe(0)
    }
  })

  it('on macOS: a launchd agent whose ProgramArguments are exactly the daemon\'s command line', async () => {
    const installed = gitmesh(['service', 'install', '--platform', 'darwin', '--json', '--builder', '--generate', GENERATE])
    expect(installed.code).toBe(0)
    const result = JSON.parse(installed.stdout) as { file: string, written: boolean }
    const file = path.join(userHome, 'Library', 'LaunchAgents', 'dev.gitmesh.daemon.plist')
    expect(result).toMatchObject({ file, written: true })
    const argv = [process.execPath, realpathSync(CLI_PATH), '--home', nodeHome, 'daemon', '--builder', '--generate', GENERATE]
    if (has('python3')) {
      // Python's plistlib as the oracle: the XML parses, and every argument comes back as given.
      const parsed = JSON.parse(execFileSync('python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file], { encoding: 'utf8' })) as { ProgramArguments: string[], EnvironmentVariables: { PATH: string }, Label: string }
      expect(parsed.ProgramArguments).toEqual(argv)
      expect(parsed.Label).toBe('dev.gitmesh.daemon')
      expect(parsed.EnvironmentVariables.PATH.startsWith('/opt/agents/bin:')).toBe(true)
    } else {
      expect(await readFile(file, 'utf8')).toContain('<string>claude -p &lt; &quot;$GITMESH_PROMPT_FILE&quot; &amp;&amp; echo &apos;100% done&apos; \\ &lt;ok&gt;</string>')
    }
  })

  it('--print writes nothing; bad daemon flags are refused before anything is written', async () => {
    const printed = gitmesh(['service', 'install', '--platform', 'linux', '--print', '--', '--on-event', 'notify me'])
    expect(printed.code).toBe(0)
    expect(printed.stdout).toContain('"daemon" "--on-event" "notify me"')
    const before = await readFile(path.join(userHome, '.config', 'systemd', 'user', 'gitmesh.service'), 'utf8')
    expect(before).not.toContain('notify me')

    const unknown = gitmesh(['service', 'install', '--platform', 'linux', '--bulider'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("daemon flags: unknown option '--bulider'")
    const needsBuilder = gitmesh(['service', 'install', '--platform', 'linux', '--slots', '2'])
    expect(needsBuilder.code).toBe(2)
    expect(needsBuilder.stderr).toContain('--slots, --generate, --agent, --tag, --pass-env, --path, --generate-timeout and --idle-timeout need --builder')
    const badPath = gitmesh(['service', 'install', '--platform', 'linux', '--builder', '--path', 'relative/bin'])
    expect(badPath.code).toBe(2)
    expect(badPath.stderr).toContain('--path: ')
    const platform = gitmesh(['service', 'install', '--platform', 'windows'])
    expect(platform.code).toBe(2)
    expect(platform.stderr).toContain('--platform "windows": one of linux, darwin')
    expect(await readFile(path.join(userHome, '.config', 'systemd', 'user', 'gitmesh.service'), 'utf8')).toBe(before)
  })

  it('uninstall removes the file, and refuses while the unit is enabled unless --disable', async () => {
    const file = path.join(userHome, '.config', 'systemd', 'user', 'gitmesh.service')
    const wants = path.join(userHome, '.config', 'systemd', 'user', 'default.target.wants')
    // What `systemctl --user enable` makes: a link in default.target.wants.
    await mkdir(wants, { recursive: true })
    await symlink(file, path.join(wants, 'gitmesh.service'))
    const refused = gitmesh(['service', 'uninstall', '--platform', 'linux'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('--disable')
    expect(existsSync(file)).toBe(true)
    await rm(path.join(wants, 'gitmesh.service'))
    const removed = gitmesh(['service', 'uninstall', '--platform', 'linux', '--json'])
    expect(removed.code).toBe(0)
    expect(JSON.parse(removed.stdout)).toMatchObject({ file, removed: true })
    expect(existsSync(file)).toBe(false)
    const darwin = gitmesh(['service', 'uninstall', '--platform', 'darwin'])
    expect(darwin.stdout).toContain('launchctl bootout gui/')
    expect(existsSync(path.join(userHome, 'Library', 'LaunchAgents', 'dev.gitmesh.daemon.plist'))).toBe(false)
  })
})
