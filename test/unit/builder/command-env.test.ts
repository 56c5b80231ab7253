import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCommandEnvironment, describeCommandEnvironment, loadCommandEnvironment } from '../../../src/builder/command-env.js'
import { parseSecrets, readSecretsFile } from '../../../src/builder/secrets-file.js'
import { runCommand } from '../../../src/process/run-command.js'

let dir: string
beforeAll(() => { dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'gitmesh-command-env-'))) })
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

const daemonEnv = { PATH: '/daemon/bin:/usr/bin:/bin', HOME: '/home/builder', LANG: 'C.UTF-8', API_KEY: 'ak-1234567890', SHORT: 'abc', NOT_LISTED: 'nl-0987654321' }

describe('buildCommandEnvironment', () => {
  it('gives the scrubbed base, the configured PATH with ~ expanded, the listed variables and the secrets, and masks their values', () => {
    const environment = buildCommandEnvironment({
      daemonEnv,
      passEnv: ['API_KEY', 'SHORT', 'UNSET'],
      path: ['~/.local/bin', '/opt/node/bin/'],
      secrets: new Map([['TOKEN', 'tk-abcdefghij']]),
      homeDir: '/home/builder'
    })
    expect(environment.variables).toEqual({ PATH: '/home/builder/.local/bin:/opt/node/bin/', HOME: '/home/builder', LANG: 'C.UTF-8', API_KEY: 'ak-1234567890', SHORT: 'abc', TOKEN: 'tk-abcdefghij' })
    expect(environment.masker.mask('ak-1234567890 tk-abcdefghij abc')).toBe('*** *** abc')
    expect(environment.warnings).toEqual([
      'command PATH: /home/builder/.local/bin is not a folder (yet)',
      'command PATH: /opt/node/bin/ is not a folder (yet)',
      'SHORT\'s value is shorter than 6 characters: it is passed but not masked in logs',
      '--pass-env UNSET: not set in the daemon\'s environment, so job commands do not get it'
    ])
    expect(describeCommandEnvironment(environment)).toEqual({ path: '/home/builder/.local/bin:/opt/node/bin/', variables: ['API_KEY', 'HOME', 'LANG', 'PATH', 'SHORT', 'TOKEN'] })
  })

  it('keeps the daemon\'s PATH when none is configured', () => {
    expect(buildCommandEnvironment({ daemonEnv }).variables.PATH).toBe('/daemon/bin:/usr/bin:/bin')
  })

  it('refuses reserved and malformed names, relative folders, and a name given twice', () => {
    expect(() => buildCommandEnvironment({ daemonEnv, passEnv: ['GITMESH_HOME'] })).toThrow('--pass-env: GITMESH_HOME: GITMESH_* variables are set by the builder')
    expect(() => buildCommandEnvironment({ daemonEnv, passEnv: ['1X'] })).toThrow('"1X" is not a variable name')
    expect(() => buildCommandEnvironment({ daemonEnv, passEnv: ['PATH'] })).toThrow('set the command PATH with --path')
    expect(() => buildCommandEnvironment({ daemonEnv, path: ['bin'] })).toThrow('command PATH: "bin" is relative')
    expect(() => buildCommandEnvironment({ daemonEnv, path: [] })).toThrow('at least one folder')
    expect(() => buildCommandEnvironment({ daemonEnv, passEnv: ['API_KEY'], secrets: new Map([['API_KEY', 'other-value']]) })).toThrow('API_KEY is both passed')
  })

  it('is what a command run with it sees, under its job variables', async () => {
    const environment = buildCommandEnvironment({ daemonEnv: { ...daemonEnv, PATH: process.env.PATH }, passEnv: ['API_KEY'], secrets: new Map([['TOKEN', 'tk-abcdefghij']]) })
    const outcome = await runCommand({ command: 'echo "$API_KEY $TOKEN ${NOT_LISTED:-none} $GITMESH_JOB_ID"', cwd: dir, env: { GITMESH_JOB_ID: 'abc123abc123' }, baseEnv: environment.variables, timeoutMs: 10_000 })
    expect(outcome.output).toBe('ak-1234567890 tk-abcdefghij none abc123abc123\n')
  })
})

describe('the secrets file', () => {
  const file = (name: string, text: string, mode: number): string => {
    const at = path.join(dir, name)
    writeFileSync(at, text)
    chmodSync(at, mode)
    return at
  }

  it('reads KEY=value lines literally, skipping blanks and comments', async () => {
    const at = file('ok.env', '# keys\n\nA_KEY=value with = and spaces inside\r\n  # indented comment\nB=b-1234567\n', 0o600)
    expect(await readSecretsFile(at)).toEqual(new Map([['A_KEY', 'value with = and spaces inside'], ['B', 'b-1234567']]))
    expect(await readSecretsFile(file('strict.env', 'A=a-1234567\n', 0o400))).toEqual(new Map([['A', 'a-1234567']]))
    expect(await readSecretsFile(path.join(dir, 'missing.env'))).toEqual(new Map())
    // The config's names and the flags' add up; the flags' PATH replaces the config's.
    const environment = await loadCommandEnvironment(at, { daemonEnv, config: { passEnv: ['API_KEY'], path: ['/config/bin'] }, passEnv: ['LANG'], path: ['/flag/bin'] })
    expect(environment.variables).toMatchObject({ B: 'b-1234567', API_KEY: 'ak-1234567890', LANG: 'C.UTF-8', PATH: '/flag/bin' })
    expect((await loadCommandEnvironment(at, { daemonEnv, config: { path: ['/config/bin'] } })).variables.PATH).toBe('/config/bin')
    // LANG passes anyway: its value is no secret and is not masked.
    expect(environment.masker.mask('C.UTF-8 ak-1234567890 b-1234567')).toBe('C.UTF-8 *** ***')
  })

  it('is refused when others can read it, naming the file, its mode and the fix', async () => {
    const at = file('loose.env', 'A=a-1234567\n', 0o640)
    await expect(readSecretsFile(at)).rejects.toThrow(`${at}: has mode 0640, so other users can read it; run \`chmod 600 ${at}\``)
    await expect(readSecretsFile(dir)).rejects.toThrow('is not a regular file')
  })

  it('refuses a bad line naming its number, never its value', () => {
    const cases: Array<[string, string]> = [
      ['A=ok-1234567\nsk-secret-value-without-a-name\n', 'f: line 2: not a KEY=value line'],
      ['export A=sk-secret-value\n', 'f: line 1: write KEY=value without `export`'],
      ['A="sk-secret-value"\n', 'f: line 1: A\'s value starts with a quote'],
      ['A=sk-secret-value \n', 'f: line 1: A\'s value starts or ends with white space'],
      ['A =sk-secret-value\n', 'f: line 1: the text before the first `=` is not a variable name'],
      ['# a key pasted alone\nsk-secret-value==\n', 'f: line 2: the text before the first `=` is not a variable name'],
      ['A=\n', 'f: line 1: A has an empty value'],
      ['A=sk-secret-value\n\nA=sk-secret-value\n', 'f: line 3: A is set again (first on line 1)'],
      ['GITMESH_PROMPT_FILE=sk-secret-value\n', 'f: line 1: GITMESH_PROMPT_FILE: GITMESH_* variables are set by the builder']
    ]
    for (const [text, message] of cases) {
      let error: Error | undefined
      try {
        parseSecrets('f', text)
      } catch (err) {
        error = err as Error
      }
      expect(error?.name, text).toBe('SecretsFileError')
      expect(error?.message, text).toContain(message)
      expect(error?.message, text).not.toContain('sk-secret')
    }
  })
})

describe('runCommand with a masker', () => {
  it('masks a secret written in two pieces, in the streamed chunks and the kept output', async () => {
    const masker = buildCommandEnvironment({ daemonEnv, passEnv: ['API_KEY'] }).masker
    const chunks: string[] = []
    // The pause makes the two halves arrive as separate chunks.
    const outcome = await runCommand({ command: 'printf "key ak-12345"; sleep 0.2; printf "67890 done\\n"', cwd: dir, env: {}, timeoutMs: 10_000, maskOutput: masker.stream(), onOutput: chunk => { chunks.push(chunk) } })
    expect(outcome.output).toBe('key *** done\n')
    expect(chunks.join('')).toBe('key *** done\n')
    expect(chunks[0]).toBe('key ')
  })

  it('never shows part of a secret that the output cap cuts', async () => {
    const masker = buildCommandEnvironment({ daemonEnv, passEnv: ['API_KEY'] }).masker
    // Unmasked, the 8 bytes kept would be the end of the last secret: masked first, they are not.
    const outcome = await runCommand({ command: 'printf "ak-1234567890ak-1234567890ak-1234567890 end\\n"', cwd: dir, env: {}, timeoutMs: 10_000, maxOutputBytes: 8, maskOutput: masker.stream() })
    expect(outcome.truncated).toBe(true)
    expect(outcome.output).toMatch(/\*\*\* end\n$/)
    expect(outcome.output).not.toMatch(/\d{3}/)
  })
})
