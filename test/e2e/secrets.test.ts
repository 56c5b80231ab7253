import { afterEach, describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli, runCliJson, startDaemon } from '../../src/demo/processes.js'
import { git, JobRig, type JobView } from '../helpers/job-rig.js'

const MY_KEY = 'mk-0123456789abcdef'
const SECRET_TOKEN = 'st-fedcba9876543210'
const OTHER_KEY = 'ok-should-not-pass-42'

/**
 * A stand-in agent, found only through the builder's configured PATH. It prints what it was
 * given, writes it into the worktree (its own choice: that goes into the result unmasked), fails
 * its first attempt saying the token, and on the second keeps its prompt, whose appended output
 * must hold the token masked.
 */
const AGENT = `#!/bin/sh
echo "key=$MY_KEY token=$SECRET_TOKEN other=\${OTHER_KEY:-unset} attempt=$GITMESH_ATTEMPT"
printf '%s\\n%s\\n%s\\n' "$MY_KEY" "$SECRET_TOKEN" "\${OTHER_KEY:-unset}" > seen.txt
if [ "$GITMESH_ATTEMPT" = 1 ]; then echo "login failed for $SECRET_TOKEN" >&2; exit 1; fi
cp "$GITMESH_PROMPT_FILE" prompt-2.md
`

/** Every byte of a home's database files (the WAL included), as text. */
function databaseBytes (home: string): string {
  return readdirSync(home).filter(name => name.startsWith('gitmesh.db')).map(name => readFileSync(path.join(home, name), 'latin1')).join('')
}

describe('secrets, environment and PATH of job commands', () => {
  let rig: JobRig | undefined
  const scratch: string[] = []
  afterEach(async () => {
    await rig?.stop()
    rig = undefined
    for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('passes listed variables and the secrets file to the commands, finds the agent on --path, and masks the values in everything the author sees', async () => {
    const bin = await mkdtemp(path.join(tmpdir(), 'gitmesh-bin-'))
    scratch.push(bin)
    await writeFile(path.join(bin, 'agent-tool'), AGENT, { mode: 0o755 })
    expect(process.env.PATH?.split(':')).not.toContain(bin)
    rig = await JobRig.start(['--generate', 'agent-tool', '--pass-env', 'UNSET_VAR_FOR_TEST', '--path', `${bin}:/usr/bin:/bin`], {
      builderEnv: { MY_KEY, OTHER_KEY },
      prepareBuilder: async home => {
        // MY_KEY comes from the config, UNSET_VAR_FOR_TEST from the flag: the two add up.
        const config = JSON.parse(readFileSync(path.join(home, 'config.json'), 'utf8')) as Record<string, unknown>
        await writeFile(path.join(home, 'config.json'), JSON.stringify({ ...config, builder: { passEnv: ['MY_KEY'] } }))
        await writeFile(path.join(home, 'secrets.env'), `# for the agent\n\nSECRET_TOKEN=${SECRET_TOKEN}\n`, { mode: 0o600 })
      }
    })
    // The test command gets the same environment.
    await writeFile(path.join(rig.repo, 'gitmesh.json'), JSON.stringify({ test: 'sh test.sh && echo "tests saw $SECRET_TOKEN"', attempts: 3, timeouts: { generate: '30s', test: '30s' } }) + '\n')

    const job = await rig.offer('use the keys', ['--name', 'use-keys'])
    const returned = await rig.waitFor(job.name, ['returned'], 60_000)
    expect(returned.result?.passed).toBe(true)
    expect(returned.attempts.map(a => a.passed)).toEqual([false, true])

    // The result is the agent's: what it wrote is committed as written, values included.
    const commit = returned.result!.commit
    expect(git(rig.repo, 'cat-file', '-p', `${commit}:seen.txt`)).toBe(`${MY_KEY}\n${SECRET_TOKEN}\nunset`)
    // The output appended to attempt 2's prompt had the token masked.
    const prompt2 = git(rig.repo, 'cat-file', '-p', `${commit}:prompt-2.md`)
    expect(prompt2).toContain('login failed for ***')
    expect(prompt2).not.toContain(SECRET_TOKEN)

    const logged = await rig.cli<JobView>(['show', job.name, '--log'])
    const logs = logged.attempts.map(a => a.log ?? '').join('\n')
    expect(logs).toContain('key=*** token=*** other=unset attempt=1')
    expect(logs).toContain('login failed for ***')
    expect(logs).toContain('tests saw ***')
    const jobs = await rig.cli<JobView[]>(['jobs'])
    const seenByAuthor = [
      JSON.stringify(logged),
      JSON.stringify(jobs),
      git(rig.repo, 'log', '-1', '--format=%B', commit),
      rig.author.lines.join('\n'), rig.author.stderr(),
      rig.builder.lines.join('\n'), rig.builder.stderr(),
      databaseBytes(rig.authorHome), databaseBytes(rig.builderHome)
    ].join('\n')
    for (const value of [MY_KEY, SECRET_TOKEN, OTHER_KEY]) expect(seenByAuthor).not.toContain(value)

    // An unset --pass-env name is a warning at start, naming it.
    expect(rig.builder.stderr()).toContain('warning: --pass-env UNSET_VAR_FOR_TEST: not set in the daemon\'s environment')

    // doctor shows what the agent sees: the PATH that finds it, and the variables by name only.
    const doctor = await runCli(rig.builderHome, ['doctor', '--json', '--repo', rig.repo])
    const { checks } = JSON.parse(doctor.stdout) as { checks: Array<{ area: string, subject: string, status: string, detail: string }> }
    const builderChecks = checks.filter(check => check.area === 'builder')
    expect(builderChecks.find(check => check.subject === 'generator')).toMatchObject({ status: 'ok', detail: `agent-tool (agent-tool is ${path.join(bin, 'agent-tool')})` })
    expect(builderChecks.find(check => check.subject === 'PATH')?.detail).toBe(`job commands get PATH=${bin}:/usr/bin:/bin`)
    expect(builderChecks.find(check => check.subject === 'environment' && check.status === 'ok')?.detail).toMatch(/MY_KEY, SECRET_TOKEN/)
    expect(builderChecks.find(check => check.status === 'warn')?.detail).toContain('UNSET_VAR_FOR_TEST')
    for (const value of [MY_KEY, SECRET_TOKEN, OTHER_KEY]) expect(doctor.stdout).not.toContain(value)
  }, 150_000)

  it('refuses to start a builder whose secrets file others can read, or that has a bad line, naming the file and the line but no value', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'gitmesh-secrets-'))
    scratch.push(home)
    await runCliJson(home, ['init'])
    const secrets = path.join(home, 'secrets.env')
    await writeFile(secrets, `API_KEY=${SECRET_TOKEN}\n`)
    await chmod(secrets, 0o644)
    await expect(startDaemon(home, ['--builder'])).rejects.toThrow(`exited (2) before it was ready: error: ${secrets}: has mode 0644, so other users can read it; run \`chmod 600 ${secrets}\``)

    await writeFile(secrets, `API_KEY=${SECRET_TOKEN}\nOTHER="${SECRET_TOKEN}"\n`)
    await chmod(secrets, 0o600)
    const quoted = await startDaemon(home, ['--builder']).then(() => '', (err: Error) => err.message)
    expect(quoted).toContain(`${secrets}: line 2: OTHER's value starts with a quote`)
    expect(quoted).not.toContain(SECRET_TOKEN)

    await writeFile(secrets, `GITMESH_JOB_ID=${SECRET_TOKEN}\n`)
    await expect(startDaemon(home, ['--builder'])).rejects.toThrow(`${secrets}: line 1: GITMESH_JOB_ID: GITMESH_* variables are set by the builder`)

    // A daemon that is not a builder does not read it.
    await writeFile(secrets, `API_KEY=${SECRET_TOKEN}\n`)
    await chmod(secrets, 0o644)
    const author = await startDaemon(home)
    await author.stop()
  }, 60_000)

  it('refuses bad names and folders in the flags and the config, saying what is wrong', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'gitmesh-secrets-'))
    scratch.push(home)
    await runCliJson(home, ['init'])
    const flag = await runCli(home, ['daemon', '--builder', '--pass-env', 'NOT-A-NAME'])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toContain('--pass-env: "NOT-A-NAME" is not a variable name')
    const relative = await runCli(home, ['daemon', '--builder', '--path', '/usr/bin:node_modules/.bin'])
    expect(relative.code).toBe(2)
    expect(relative.stderr).toContain('--path: "node_modules/.bin" is relative')
    const notBuilder = await runCli(home, ['daemon', '--pass-env', 'KEY'])
    expect(notBuilder.code).toBe(2)
    expect(notBuilder.stderr).toContain('need --builder')

    await writeFile(path.join(home, 'config.json'), JSON.stringify({ builder: { passEnv: ['GITMESH_HOME'] } }))
    const config = await runCli(home, ['daemon', '--builder'])
    expect(config.code).toBe(2)
    expect(config.stderr).toContain(`${path.join(home, 'config.json')}: builder.passEnv.0: GITMESH_HOME: GITMESH_* variables are set by the builder`)
  }, 60_000)
})
