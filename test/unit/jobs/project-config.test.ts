import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadJobSettings, type JobSettings, type SettingOverrides } from '../../../src/jobs/project-config.js'
import { DEFAULT_ATTEMPTS, DEFAULT_GENERATE_TIMEOUT_MS, DEFAULT_TEST_TIMEOUT_MS, MAX_ATTEMPTS, MAX_PROJECT_CONFIG_BYTES, PROJECT_CONFIG_FILE } from '../../../src/jobs/constants.js'

let repo: string

beforeEach(async () => {
  repo = await mkdtemp(path.join(tmpdir(), 'gitmesh-config-'))
})

afterEach(async () => {
  await rm(repo, { recursive: true, force: true })
})

async function writeConfig (content: unknown): Promise<void> {
  await writeFile(path.join(repo, PROJECT_CONFIG_FILE), typeof content === 'string' ? content : JSON.stringify(content))
}

/** The error loadJobSettings throws, or a failure when it does not throw. */
async function failure (overrides?: SettingOverrides): Promise<Error> {
  let settings: JobSettings | undefined
  try {
    settings = await loadJobSettings(repo, overrides)
  } catch (err) {
    return err as Error
  }
  throw new Error(`expected an error, got ${JSON.stringify(settings)}`)
}

describe('loadJobSettings: setup, setupKey, timeouts.setup and timeouts.idle', () => {
  it('reads the setup command, its key files and its own timeouts', async () => {
    await writeConfig({ test: 'npm test', setup: 'npm ci', setupKey: ['package-lock.json', 'app/package-lock.json'], timeouts: { setup: '5m', idle: '10m' } })
    expect(await loadJobSettings(repo)).toEqual({
      test: 'npm test',
      attempts: DEFAULT_ATTEMPTS,
      generateTimeoutMs: DEFAULT_GENERATE_TIMEOUT_MS,
      testTimeoutMs: DEFAULT_TEST_TIMEOUT_MS,
      setup: { command: 'npm ci', key: ['package-lock.json', 'app/package-lock.json'] },
      projectTimeouts: { setup: 300_000, idle: 600_000 }
    })
  })

  it('a setup without setupKey has an empty key (it runs for every job); setupKey without setup is an error', async () => {
    await writeConfig({ test: 'npm test', setup: 'make deps' })
    expect((await loadJobSettings(repo)).setup).toEqual({ command: 'make deps', key: [] })
    await writeConfig({ test: 'npm test', setupKey: ['package-lock.json'] })
    expect((await failure()).message).toContain(`${PROJECT_CONFIG_FILE}: setupKey: setupKey names the files whose hash keys the setup cache: it needs a setup command`)
  })

  it('refuses setupKey paths that leave the repository or are not in git\'s form, and says why', async () => {
    const cases: Array<[unknown, string]> = [
      ['../package-lock.json', 'has a ".." segment'],
      ['app/../../x', 'has a ".." segment'],
      ['/etc/passwd', 'is absolute'],
      ['app\\lock', 'contains a backslash'],
      ['./package-lock.json', 'empty or "." segment'],
      ['app//lock', 'empty or "." segment'],
      ['.git/config', 'is inside .git'],
      ['', 'is empty'],
      ['x'.repeat(257), 'longer than 256'],
      [5, 'setupKey.0']
    ]
    for (const [file, why] of cases) {
      await writeConfig({ test: 'npm test', setup: 'npm ci', setupKey: [file] })
      const err = await failure()
      expect(err.name, JSON.stringify(file)).toBe('InvalidProjectConfigError')
      expect(err.message, JSON.stringify(file)).toContain(`${PROJECT_CONFIG_FILE}: setupKey`)
      expect(err.message, JSON.stringify(file)).toContain(why)
    }
    await writeConfig({ test: 'npm test', setup: 'npm ci', setupKey: [] })
    expect((await failure()).message).toContain('must name at least one file')
    await writeConfig({ test: 'npm test', setup: '' })
    expect((await failure()).message).toContain('setup: must be a command such as "npm ci"')
  })
})

describe('loadJobSettings: the file', () => {
  it('reads test, attempts and both timeouts', async () => {
    await writeConfig({ test: 'npm test', attempts: 5, timeouts: { generate: '10m', test: '90s' } })
    // projectTimeouts: what the file itself says, which wins over a builder's own defaults
    expect(await loadJobSettings(repo)).toEqual({ test: 'npm test', attempts: 5, generateTimeoutMs: 600_000, testTimeoutMs: 90_000, projectTimeouts: { generate: 600_000 } })
  })

  it('fills what the file leaves out with the defaults', async () => {
    await writeConfig({ test: 'make check' })
    expect(await loadJobSettings(repo)).toEqual({ test: 'make check', attempts: DEFAULT_ATTEMPTS, generateTimeoutMs: DEFAULT_GENERATE_TIMEOUT_MS, testTimeoutMs: DEFAULT_TEST_TIMEOUT_MS })
    await writeConfig({ test: 'make check', timeouts: { test: '1h' } })
    expect(await loadJobSettings(repo)).toMatchObject({ generateTimeoutMs: DEFAULT_GENERATE_TIMEOUT_MS, testTimeoutMs: 3_600_000 })
  })

  it('reads durations as ms strings ("90s", "10m", "1.5h", "250ms") or as a number of milliseconds', async () => {
    const cases: Array<[unknown, number]> = [['90s', 90_000], ['10m', 600_000], ['1.5h', 5_400_000], ['250ms', 250], ['6h', 21_600_000], [1500, 1500], ['2 minutes', 120_000]]
    for (const [value, ms] of cases) {
      await writeConfig({ test: 'npm test', timeouts: { generate: value } })
      expect((await loadJobSettings(repo)).generateTimeoutMs, JSON.stringify(value)).toBe(ms)
    }
  })

  it('names a missing file, and says how to fix it, unless --test is given', async () => {
    const err = await failure()
    expect(err.name).toBe('InvalidProjectConfigError')
    expect(err.message).toContain(path.join(repo, PROJECT_CONFIG_FILE))
    expect(err.message).toContain('missing')
    expect(err.message).toContain('--test')
    expect(await loadJobSettings(repo, { test: 'npm test' })).toEqual({ test: 'npm test', attempts: DEFAULT_ATTEMPTS, generateTimeoutMs: DEFAULT_GENERATE_TIMEOUT_MS, testTimeoutMs: DEFAULT_TEST_TIMEOUT_MS })
  })

  it('refuses a file that is not JSON, even with --test', async () => {
    for (const text of ['{"test": "npm test",}', '', 'test: npm test', '{"test": "npm test"']) {
      await writeConfig(text)
      const err = await failure({ test: 'npm test' })
      expect(err.name, text).toBe('InvalidProjectConfigError')
      expect(err.message, text).toContain('not valid JSON')
    }
  })

  it('refuses values of the wrong type and names the key', async () => {
    const cases: Array<[unknown, string]> = [
      [{ test: 5 }, 'test'],
      [{ test: '' }, 'test'],
      [{ attempts: 3 }, 'test'],
      [{ test: 'npm test', attempts: '3' }, 'attempts'],
      [{ test: 'npm test', attempts: 2.5 }, 'attempts'],
      [{ test: 'npm test', attempts: 0 }, 'attempts'],
      [{ test: 'npm test', attempts: MAX_ATTEMPTS + 1 }, 'attempts'],
      [{ test: 'npm test', timeouts: '10m' }, 'timeouts'],
      [{ test: 'npm test', timeouts: { generate: true } }, 'timeouts.generate'],
      [{ test: 'npm test', timeouts: { test: 'soon' } }, 'timeouts.test'],
      [{ test: 'npm test', timeouts: { test: '0s' } }, 'timeouts.test'],
      [{ test: 'npm test', timeouts: { test: -5 } }, 'timeouts.test'],
      [{ test: 'npm test', timeouts: { test: '7h' } }, 'timeouts.test'],
      [{ test: 'npm test', timeouts: { build: '1m' } }, 'timeouts'],
      [{ test: 'npm test', tests: 'npm test' }, 'config'],
      [['npm test'], 'config'],
      [null, 'config']
    ]
    for (const [value, where] of cases) {
      await writeConfig(value)
      const err = await failure()
      expect(err.name, JSON.stringify(value)).toBe('InvalidProjectConfigError')
      expect(err.message, JSON.stringify(value)).toContain(`${PROJECT_CONFIG_FILE}: ${where}`)
    }
  })

  it('refuses a file larger than MAX_PROJECT_CONFIG_BYTES without parsing it', async () => {
    await writeConfig(JSON.stringify({ test: 'npm test', note: 'x'.repeat(MAX_PROJECT_CONFIG_BYTES) }))
    const err = await failure({ test: 'npm test' })
    expect(err.name).toBe('InvalidProjectConfigError')
    expect(err.message).toContain(`larger than ${MAX_PROJECT_CONFIG_BYTES} bytes`)
  })

  it('says what a bad duration should look like', async () => {
    await writeConfig({ test: 'npm test', timeouts: { generate: 'ten minutes' } })
    expect((await failure()).message).toMatch(/"ten minutes" is not a duration such as "90s", "10m" or "1h" \(at most 6 h\)/)
  })
})

describe('loadJobSettings: command-line overrides', () => {
  it('--test and --attempts win over the file; the file still gives the timeouts', async () => {
    await writeConfig({ test: 'npm test', attempts: 2, timeouts: { generate: '1m', test: '2m' } })
    expect(await loadJobSettings(repo, { test: 'npm run test:unit', attempts: 7 })).toEqual({ test: 'npm run test:unit', attempts: 7, generateTimeoutMs: 60_000, testTimeoutMs: 120_000, projectTimeouts: { generate: 60_000 } })
    expect(await loadJobSettings(repo, { attempts: 1 })).toMatchObject({ test: 'npm test', attempts: 1 })
    expect(await loadJobSettings(repo, { test: 'true' })).toMatchObject({ test: 'true', attempts: 2 })
  })

  it('an --attempts out of range or not whole is an error, file or no file', async () => {
    for (const attempts of [0, MAX_ATTEMPTS + 1, 1.5, Number.NaN]) {
      const err = await failure({ test: 'npm test', attempts })
      expect(err.name, String(attempts)).toBe('InvalidProjectConfigError')
      expect(err.message, String(attempts)).toContain(`attempts must be between 1 and ${MAX_ATTEMPTS}`)
    }
    expect(await loadJobSettings(repo, { test: 'npm test', attempts: MAX_ATTEMPTS })).toMatchObject({ attempts: MAX_ATTEMPTS })
  })

  it('an override does not rescue a broken file', async () => {
    await writeConfig({ test: 'npm test', attempts: 'many' })
    expect((await failure({ test: 'npm test', attempts: 3 })).name).toBe('InvalidProjectConfigError')
  })

  // BUG (src/jobs/project-config.ts:47-49, loadJobSettings): every read error is taken for "missing", so a
  // gitmesh.json that exists but cannot be read (a directory here; EACCES for a non-root user)
  // is silently ignored when --test is given, instead of being the clear error the issue asks for.
  it('a gitmesh.json that exists but cannot be read is an error, not a missing file', async () => {
    await mkdir(path.join(repo, PROJECT_CONFIG_FILE))
    expect((await failure({ test: 'npm test' })).name).toBe('InvalidProjectConfigError')
  })
})
