import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { askNamer, deriveName, isValidName, kebabName, uniqueName } from '../../../src/jobs/naming.js'
import { MAX_NAME_CHARS, NAMER_TIMEOUT_MS } from '../../../src/jobs/constants.js'

describe('kebabName', () => {
  it('turns a file name into a valid job name, cut at a word boundary however long it is', () => {
    expect(kebabName('Café Menu')).toBe('cafe-menu')
    const long = kebabName('update-the-authentication-middleware-to-use-the-new-tokens')
    expect(long).toBe('update-the-authentication-middleware-to-use-the')
    expect(isValidName(long)).toBe(true)
    expect(kebabName('---')).toBe('')
  })
})

describe('deriveName', () => {
  it('keeps the first three significant words of the prompt, kebab-case', () => {
    expect(deriveName('write a function to validate email addresses')).toBe('validate-email-addresses')
  })

  // Prompts as people write them, and the names they get.
  const cases: Array<[string, string]> = [
    ['Add a --verbose flag to the CLI', 'verbose-flag-cli'],
    ['Implement rate limiting for the public API endpoints', 'rate-limiting-public'],
    ['Refactor the user service to use dependency injection', 'refactor-user-service'],
    ['Please add unit tests for the date parser', 'unit-tests-date'],
    ['Make the sidebar collapsible on mobile screens', 'sidebar-collapsible-mobile'],
    ['Convert the config loader from callbacks to async/await', 'convert-config-loader'],
    ['Add pagination to /api/orders', 'pagination-api-orders'],
    ['Implement LRU cache with TTL support', 'lru-cache-ttl'],
    ['Rename getUsr to getUser everywhere', 'rename-getusr-getuser'],
    ['Upgrade lodash to 4.17.21 and fix breaking changes', 'upgrade-lodash-4'],
    ['Create a class that parses CSV files into typed rows', 'parses-csv-files'],
    ['Could you write a retry helper with exponential backoff?', 'retry-helper-exponential'],
    ['  SHOUTING:   Add   Dark-Mode   toggle!!!  ', 'shouting-dark-mode'],
    ['Résumé parser: handle accented names like José Müller', 'resume-parser-handle']
  ]
  for (const [prompt, name] of cases) {
    it(`${JSON.stringify(prompt)} → ${name}`, () => {
      expect(deriveName(prompt)).toBe(name)
      expect(isValidName(deriveName(prompt))).toBe(true)
    })
  }

  it('reads only the prose before the first fenced code block', () => {
    const prompt = 'Add an email validator\n\n```ts path=src/email.ts\nexport function validateEmailAddress () {}\n```\n'
    expect(deriveName(prompt)).toBe('email-validator')
    expect(deriveName('Fix the parser\n~~~\nbroken input here\n~~~')).toBe('fix-parser')
  })

  it('falls back to the filler words when there is nothing else, and to "job" when there are no words at all', () => {
    expect(deriveName('Write a function\n```ts path=src/email.ts\nexport const x = 1\n```')).toBe('write-a-function')
    expect(deriveName('```ts path=src/a.ts\nexport const a = 1\n```')).toBe('job')
    expect(deriveName('日本語のプロンプト')).toBe('job')
    expect(deriveName('!!! ???')).toBe('job')
  })

  it('cuts a long name at a word boundary within MAX_NAME_CHARS, or hard when one word is longer', () => {
    const name = deriveName('supercalifragilisticexpialidocious antidisestablishmentarianism floccinaucinihilipilification')
    expect(name).toBe('supercalifragilisticexpialidocious')
    const single = deriveName('x'.repeat(100))
    expect(single).toBe('x'.repeat(MAX_NAME_CHARS))
    for (const prompt of ['implementation '.repeat(10), 'a1b2c3d4e5f6g7h8i9j0 '.repeat(5), `${'y'.repeat(47)} zz`]) {
      const derived = deriveName(prompt)
      expect(derived.length, prompt).toBeLessThanOrEqual(MAX_NAME_CHARS)
      expect(isValidName(derived), derived).toBe(true)
    }
  })
})

describe('uniqueName', () => {
  it('returns the base when it is free, then -2, -3… in order', () => {
    const taken = new Set<string>()
    const next = (base: string): string => {
      const name = uniqueName(base, n => taken.has(n))
      taken.add(name)
      return name
    }
    expect(next('validate-email')).toBe('validate-email')
    expect(next('validate-email')).toBe('validate-email-2')
    expect(next('validate-email')).toBe('validate-email-3')
    expect(next('other')).toBe('other')
  })

  it('shortens a long base so the suffix still fits MAX_NAME_CHARS, without a double dash', () => {
    const base = 'a'.repeat(MAX_NAME_CHARS)
    const second = uniqueName(base, n => n === base)
    expect(second).toBe(`${'a'.repeat(MAX_NAME_CHARS - 2)}-2`)
    expect(isValidName(second)).toBe(true)
    // A cut that would end on a dash drops it.
    const dashed = `${'b'.repeat(45)}-cc`
    const suffixed = uniqueName(dashed, n => n === dashed)
    expect(suffixed).toBe(`${'b'.repeat(45)}-2`)
    expect(isValidName(suffixed)).toBe(true)
    // Ten and more: the suffix grows and the base shrinks.
    const asked: string[] = []
    const eleventh = uniqueName(base, n => { asked.push(n); return n === base || Number(n.split('-').pop()) <= 10 })
    expect(asked[9]).toBe(`${'a'.repeat(MAX_NAME_CHARS - 3)}-10`)
    expect(eleventh).toBe(`${'a'.repeat(MAX_NAME_CHARS - 3)}-11`)
    expect(eleventh.length).toBe(MAX_NAME_CHARS)
  })
})

describe('isValidName', () => {
  it('accepts short kebab-case names', () => {
    for (const name of ['a', 'job', 'validate-email-addresses', 'v2-api', '0-1-2', 'x'.repeat(MAX_NAME_CHARS)]) {
      expect(isValidName(name), name).toBe(true)
    }
  })

  it('refuses anything else', () => {
    for (const name of ['', 'Validate', 'with space', 'under_score', '-leading', 'trailing-', 'double--dash', 'dot.name', 'slash/name', 'é', 'x'.repeat(MAX_NAME_CHARS + 1)]) {
      expect(isValidName(name), name).toBe(false)
    }
  })
})

describe('askNamer (real sh -c commands)', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-namer-'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('uses the first line of a successful command, lower-cased', async () => {
    expect(await askNamer('echo email-check', 'write a function to validate email addresses')).toBe('email-check')
    expect(await askNamer("printf 'Email-Check\\nsecond line\\n'", 'prompt')).toBe('email-check')
    expect(await askNamer("printf '  padded-name  '", 'prompt')).toBe('padded-name')
  })

  it('gives the command the prompt on stdin', async () => {
    expect(await askNamer("tr -s ' ' '-' | cut -d- -f3-5", 'write a function to validate email addresses')).toBe('function-to-validate')
  })

  it('gives undefined when the command fails, even if it printed a good name', async () => {
    expect(await askNamer('echo good-name; exit 3', 'prompt')).toBeUndefined()
    expect(await askNamer('exit 1', 'prompt')).toBeUndefined()
    expect(await askNamer(path.join(dir, 'no-such-namer'), 'prompt')).toBeUndefined()
  })

  it('gives undefined when the output is not a valid name', async () => {
    expect(await askNamer('echo "Validate Email Addresses!"', 'prompt')).toBeUndefined()
    expect(await askNamer('true', 'prompt')).toBeUndefined()
    expect(await askNamer(`printf '%s' ${'a'.repeat(MAX_NAME_CHARS + 1)}`, 'prompt')).toBeUndefined()
    expect(await askNamer("printf '\\nlate-name\\n'", 'prompt')).toBeUndefined()
  })

  it('gives up on a slow command after NAMER_TIMEOUT_MS and kills its whole process group', async () => {
    const pidFile = path.join(dir, 'slow.pid')
    const started = performance.now()
    // A background sleeper shares the shell's process group; the shell itself then sleeps too.
    const name = await askNamer(`sleep 30 & echo $! > '${pidFile}'; echo slow-name; sleep 30`, 'prompt')
    const elapsed = performance.now() - started
    expect(name).toBeUndefined()
    expect(elapsed).toBeGreaterThanOrEqual(NAMER_TIMEOUT_MS - 5)
    // Far below the command's 30 s, with room for a loaded machine to start and kill processes.
    expect(elapsed).toBeLessThan(NAMER_TIMEOUT_MS + 5_000)
    const pid = Number((await readFile(pidFile, 'utf8')).trim())
    await vi.waitFor(() => { expect(isRunning(pid)).toBe(false) }, { timeout: 2000, interval: 10 })
  })

  it('takes a shorter timeout when given one', async () => {
    const started = performance.now()
    expect(await askNamer('sleep 5; echo too-late', 'prompt', 100)).toBeUndefined()
    // Half the command's 5 s: the 100 ms timeout, not the command, ended it.
    expect(performance.now() - started).toBeLessThan(2_500)
  })

  it('does not fail when the command ignores a large prompt on stdin', async () => {
    expect(await askNamer('echo big-prompt', 'x'.repeat(1024 * 1024))).toBe('big-prompt')
  })
})

/** True while `pid` exists and is not a zombie waiting for a parent to reap it. */
function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}
