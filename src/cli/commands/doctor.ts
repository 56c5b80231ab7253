import path from 'node:path'
import { access } from 'node:fs/promises'
import type { Command } from 'commander'
import { commandContext } from '../context.js'
import { EXIT } from '../exit-codes.js'
import { pc } from '../output.js'
import { isDaemonAway } from '../../daemon/errors.js'
import type { DoctorCheck } from '../../daemon/views.js'
import { PROJECT_CONFIG_FILE } from '../../jobs/constants.js'
import { DOCTOR_COMMAND_TIMEOUT_MS } from '../../daemon/constants.js'

const MARK: Record<DoctorCheck['status'], string> = { ok: pc.green('ok  '), warn: pc.yellow('warn'), fail: pc.red('FAIL') }

export function registerDoctorCommand (program: Command): void {
  program.command('doctor')
    .description('check this node: its daemon, listen addresses, trusted peers (and whether they trust it back), the builder\'s generator, and the repository\'s gitmesh.json')
    .option('--repo <dir>', 'the repository whose gitmesh.json is checked', '.')
    .option('--json', 'print the findings as JSON')
    .addHelpText('after', `
Each finding is ok, warn or FAIL; every problem says what to do. Exits 0 when nothing failed
(warnings allowed), 1 when something did.

Examples:
  gitmesh doctor
  gitmesh doctor --repo ~/src/app
  gitmesh doctor --json | jq '.checks[] | select(.status != "ok")'`)
    .action(async (opts: { repo: string }, command: Command) => {
      const { home, out, call } = commandContext(command)
      const checks: DoctorCheck[] = []
      try {
        const found = await call<DoctorCheck[]>('doctor')
        checks.push({ area: 'daemon', subject: home.dir, status: 'ok', detail: 'running' }, ...found)
      } catch (err) {
        if (!isDaemonAway(err) && (err as Error).name !== 'HomeNotInitializedError') throw err
        checks.push({ area: 'daemon', subject: home.dir, status: 'fail', detail: (err as Error).message, fix: `start it: gitmesh --home ${home.dir} daemon (or run it as a service: gitmesh service install)` })
      }
      checks.push(...await checkProject(path.resolve(opts.repo)))
      const failed = checks.filter(check => check.status === 'fail').length
      const warned = checks.filter(check => check.status === 'warn').length
      out.result({ ok: failed === 0, checks }, () => [
        ...checks.flatMap(check => [
          `${MARK[check.status]}  ${check.area.padEnd(8)} ${check.subject}: ${check.detail}`,
          ...(check.fix === undefined ? [] : [`      ${pc.dim('fix:')} ${check.fix}`])
        ]),
        '',
        failed === 0 && warned === 0 ? 'no problems found' : `${failed} problem${failed === 1 ? '' : 's'}, ${warned} warning${warned === 1 ? '' : 's'}`
      ])
      if (failed > 0) process.exitCode = EXIT.failure
    })
}

/** The repository's gitmesh.json: present, valid, and its test command's program found here. */
async function checkProject (repo: string): Promise<DoctorCheck[]> {
  const subject = path.join(repo, PROJECT_CONFIG_FILE)
  try {
    await access(path.join(repo, '.git'))
  } catch {
    return [{ area: 'project', subject: repo, status: 'ok', detail: 'not a repository: nothing to check (use --repo DIR)' }]
  }
  const { loadJobSettings } = await import('../../jobs/project-config.js')
  let settings
  try {
    settings = await loadJobSettings(repo)
  } catch (err) {
    return [{ area: 'project', subject, status: 'fail', detail: (err as Error).message.replace(`${subject}: `, ''), fix: 'fix the file and commit it: builders read the copy inside each snapshot' }]
  }
  const { firstWord } = await import('../../daemon/doctor.js')
  const { runCommand } = await import('../../process/run-command.js')
  const program = firstWord(settings.test)
  const checks: DoctorCheck[] = [{ area: 'project', subject, status: 'ok', detail: `valid: test \`${settings.test}\`, ${settings.attempts} attempts` }]
  if (program !== undefined) {
    // The tests run on builders, but a program missing here is usually missing there too.
    const found = await runCommand({ command: 'command -v "$GITMESH_DOCTOR_PROGRAM" || [ -e "$GITMESH_DOCTOR_PROGRAM" ]', cwd: repo, env: { GITMESH_DOCTOR_PROGRAM: program }, timeoutMs: DOCTOR_COMMAND_TIMEOUT_MS })
    if (found.exitCode !== 0) {
      checks.push({ area: 'project', subject: 'test command', status: 'warn', detail: `${program} is not found on this machine's PATH or in the repository`, fix: 'make sure builders have it, or add a setup command that installs it' })
    }
  }
  return checks
}
