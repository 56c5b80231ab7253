import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { parsePromptFile, promptDigest } from '../../../src/watch/prompt-file.js'
import { PromptFileError } from '../../../src/watch/errors.js'
import { MAX_OWNS_GLOBS, MAX_PROMPT_CHARS } from '../../../src/jobs/constants.js'

const FILE = 'prompts/email.md'

/** A prompt file from its lines. */
const lines = (...rows: string[]): string => rows.join('\n') + '\n'

/** The PromptFileError parsePromptFile throws for `text`, or a failure when it does not throw. */
function failure (text: string): PromptFileError {
  try {
    const task = parsePromptFile(text, FILE)
    throw new Error(`expected an error, got ${JSON.stringify(task)}`)
  } catch (err) {
    if (!(err instanceof PromptFileError)) throw err
    expect(err.name).toBe('PromptFileError')
    expect(err.file).toBe(FILE)
    expect(err.message).toBe(`${FILE}:${err.line}: ${err.reason}`)
    return err
  }
}

describe('parsePromptFile: front matter', () => {
  it('reads a file without front matter as all prompt, with the defaults', () => {
    const text = '\n  Write a function to validate email addresses.\n\nPlus addressing counts.\n\n'
    expect(parsePromptFile(text, FILE)).toEqual({
      file: FILE,
      after: [],
      owns: [],
      priority: 0,
      fanout: 1,
      builders: [],
      stack: false,
      fanout_stop: 'none',
      prompt: 'Write a function to validate email addresses.\n\nPlus addressing counts.',
      digest: createHash('sha256').update(text).digest('hex')
    })
    const task = parsePromptFile(text, FILE)
    expect('name' in task).toBe(false)
    expect('attempts' in task).toBe(false)
  })

  it('reads every key, single values as one-entry lists', () => {
    const task = parsePromptFile(lines(
      '---',
      'name: email-validation',
      'after: parse-config',
      'owns: src/email/**',
      'priority: -5',
      'fanout: 3',
      'attempts: 7',
      'builders: gpu',
      'stack: true',
      'fanout_stop: first-pass',
      '---',
      '# Email',
      '',
      'Validate addresses.'
    ), FILE)
    expect(task).toMatchObject({
      file: FILE,
      name: 'email-validation',
      after: ['parse-config'],
      owns: ['src/email/**'],
      priority: -5,
      fanout: 3,
      attempts: 7,
      builders: ['gpu'],
      stack: true,
      fanout_stop: 'first-pass',
      prompt: '# Email\n\nValidate addresses.'
    })
  })

  it('refuses a stack that is not true or false, and an unknown fanout_stop', () => {
    expect(failure(lines('---', 'stack: yes please', '---', 'x')).message).toBe('prompts/email.md:2: stack: "yes please" is not true or false')
    expect(failure(lines('---', 'fanout_stop: never', '---', 'x')).message).toBe('prompts/email.md:2: fanout_stop: "never" is not one of none, first-pass')
  })

  it('reads lists in block and flow style, without repeats', () => {
    const task = parsePromptFile(lines(
      '---',
      'after:',
      '  - parse-config',
      '  - http-client',
      '  - parse-config',
      'owns: [src/email/**, "test/email*.test.ts", "docs/{email,mail}.md"]',
      'builders:',
      '  - 12D3KooWGzh8mZSwVZ3uZ5Qh1vDnPYDe6ThDSjSr7E6SMTWpWfd3',
      '  - linux',
      '---',
      'Validate addresses.'
    ), FILE)
    expect(task.after).toEqual(['parse-config', 'http-client'])
    expect(task.owns).toEqual(['src/email/**', 'test/email*.test.ts', 'docs/{email,mail}.md'])
    expect(task.builders).toEqual(['12D3KooWGzh8mZSwVZ3uZ5Qh1vDnPYDe6ThDSjSr7E6SMTWpWfd3', 'linux'])
    expect(task.priority).toBe(0)
    expect(task.fanout).toBe(1)
  })

  it('takes empty front matter, comments, empty lists, a byte order mark, CRLF line ends and blanks after a fence', () => {
    expect(parsePromptFile('---\n---\nhello\n', FILE)).toMatchObject({ after: [], priority: 0, prompt: 'hello' })
    expect(parsePromptFile('---\n# just a comment\n---\nhello', FILE).prompt).toBe('hello')
    expect(parsePromptFile('---\nafter: []\nowns: []\n---\nhello', FILE)).toMatchObject({ after: [], owns: [] })
    const crlf = '\uFEFF---  \r\nname: crlf\r\npriority: 2\r\n--- \r\nline one\r\nline two\r\n'
    expect(parsePromptFile(crlf, FILE)).toMatchObject({ name: 'crlf', priority: 2, prompt: 'line one\nline two', digest: promptDigest(crlf) })
  })

  it('keeps a later "---" line (a Markdown rule) in the prompt', () => {
    const task = parsePromptFile(lines('---', 'name: rules', '---', 'above', '', '---', '', 'below'), FILE)
    expect(task.prompt).toBe('above\n\n---\n\nbelow')
  })

  it('digests the whole file text: front matter and blanks count', () => {
    const a = parsePromptFile('---\npriority: 1\n---\nhello\n', FILE)
    const b = parsePromptFile('---\npriority: 2\n---\nhello\n', FILE)
    const c = parsePromptFile('---\npriority: 1\n---\nhello\n\n', FILE)
    expect(a.prompt).toBe(b.prompt)
    expect(new Set([a.digest, b.digest, c.digest]).size).toBe(3)
    expect(a.digest).toBe(createHash('sha256').update('---\npriority: 1\n---\nhello\n', 'utf8').digest('hex'))
    expect(parsePromptFile('---\npriority: 1\n---\nhello\n', 'other.md').digest).toBe(a.digest)
  })

  it('takes the limits themselves', () => {
    const task = parsePromptFile(lines('---', 'priority: 1000', 'fanout: 8', 'attempts: 20', `builders: ${'b'.repeat(128)}`, `name: ${'n'.repeat(48)}`, '---', 'x'), FILE)
    expect(task).toMatchObject({ priority: 1000, fanout: 8, attempts: 20, name: 'n'.repeat(48) })
    expect(parsePromptFile(lines('---', 'priority: -1000', 'fanout: 1', 'attempts: 1', '---', 'x'), FILE)).toMatchObject({ priority: -1000, fanout: 1, attempts: 1 })
    expect(parsePromptFile('p'.repeat(MAX_PROMPT_CHARS), FILE).prompt.length).toBe(MAX_PROMPT_CHARS)
  })
})

describe('parsePromptFile: errors name the file and line', () => {
  it('a YAML syntax error, at the line the yaml library gives', () => {
    const err = failure(lines('---', 'name: email', 'priority: 1', 'owns: a: b', '---', 'hello'))
    expect(err.line).toBe(4)
    expect(err.message).toMatch(/^prompts\/email\.md:4: front matter is not valid YAML: /)
    expect(err.message).not.toContain('\n')
  })

  it('a repeated key, at the repeat', () => {
    const err = failure(lines('---', 'name: email', 'priority: 1', 'priority: 2', '---', 'hello'))
    expect(err.line).toBe(4)
    expect(err.reason).toMatch(/unique/)
  })

  it('a bad priority, at its line, whatever is wrong with it', () => {
    for (const value of ['1.5', '2000', '-1001', 'high', '"3"', '', '[1]']) {
      const err = failure(lines('---', 'name: email', `priority: ${value}`, '---', 'hello'))
      expect(err.message, value).toBe('prompts/email.md:3: priority: must be a whole number between -1000 and 1000')
    }
  })

  it('fanout and attempts out of range', () => {
    expect(failure(lines('---', 'fanout: 0', '---', 'x')).message).toBe('prompts/email.md:2: fanout: must be a whole number between 1 and 8')
    expect(failure(lines('---', 'name: e', '', 'fanout: 9', '---', 'x')).line).toBe(4)
    expect(failure(lines('---', 'attempts: 21', '---', 'x')).message).toBe('prompts/email.md:2: attempts: must be a whole number between 1 and 20')
    expect(failure(lines('---', 'attempts: 0', '---', 'x')).reason).toBe('attempts: must be a whole number between 1 and 20')
  })

  it('an unknown key, at its line, listing the known ones', () => {
    const err = failure(lines('---', 'name: email', 'priority: 1', 'colour: red', '---', 'hello'))
    expect(err.line).toBe(4)
    expect(err.reason).toBe('colour: unknown key (known keys: name, after, owns, priority, fanout, attempts, builders, stack, fanout_stop)')
  })

  it('the first problem from the top when there are several', () => {
    const err = failure(lines('---', 'name: email', 'zeta: 1', 'priority: 5000', 'alpha: 2', '---', 'hello'))
    expect(err.line).toBe(3)
    expect(err.reason).toMatch(/^zeta: unknown key/)
    expect(failure(lines('---', 'fanout: 99', 'priority: 5000', '---', 'x')).reason).toMatch(/^fanout:/)
  })

  it('an empty prompt: below the front matter, or the whole file', () => {
    const below = failure(lines('---', 'name: email', '---', '', '   ', ''))
    expect(below.line).toBe(4)
    expect(below.reason).toBe('the prompt is empty: write it below the front matter')
    expect(failure('').message).toBe('prompts/email.md:1: the prompt is empty')
    expect(failure('  \n\n\t\n').line).toBe(1)
    expect(failure('---\nname: email\n---').line).toBe(3)
  })

  it('a prompt over the limit, at its first line', () => {
    const err = failure(lines('---', 'name: big', '---', 'p'.repeat(MAX_PROMPT_CHARS + 1)))
    expect(err.line).toBe(4)
    expect(err.reason).toMatch(/longer than/)
  })

  it('a bad glob, at its line (at its item in a list)', () => {
    const cases: Array<[string, RegExp]> = [
      ['"/etc/**"', /"\/etc\/\*\*" is an absolute path/],
      ['"C:/src/**"', /absolute path/],
      ['"~/src"', /absolute path/],
      ['../outside/**', /"\.\.\/outside\/\*\*" has a "\.\." segment/],
      ['src/../../x', /"\.\." segment/],
      ['"{src,..}/x"', /"\.\." segment/],
      ['"src/[ab"', /is not a valid glob \(Missing closing: "\]"/],
      ['"src/(a"', /is not a valid glob/],
      ['""', /"" is empty/],
      ['"!secrets/**"', /is negated/],
      ['42', /42 is not a glob/],
      [`"${'a'.repeat(300)}"`, /longer than 256 characters/]
    ]
    for (const [value, message] of cases) {
      const single = failure(lines('---', 'name: email', `owns: ${value}`, '---', 'hello'))
      expect(single.line, value).toBe(3)
      expect(single.reason, value).toMatch(/^owns: /)
      expect(single.reason, value).toMatch(message)
      const listed = failure(lines('---', 'owns:', '  - src/**', `  - ${value}`, '---', 'hello'))
      expect(listed.line, value).toBe(4)
      expect(listed.reason, value).toMatch(message)
    }
    // Dots that are not a ".." segment are fine.
    expect(parsePromptFile(lines('---', 'owns: [src/a..b/**, .github/**, "**/*.d.ts"]', '---', 'x'), FILE).owns).toHaveLength(3)
  })

  it('a bad name, or a bad name in after', () => {
    for (const value of ['Email', 'email_validation', '-email', 'email--x', 'n'.repeat(49), '12']) {
      const err = failure(lines('---', `name: ${value}`, '---', 'hello'))
      expect(err.line, value).toBe(2)
      expect(err.reason, value).toMatch(/^name: .* is not a job name: use kebab-case/)
    }
    const listed = failure(lines('---', 'name: email', 'after:', '  - parse-config', '  - Parse Config', '---', 'hello'))
    expect(listed.line).toBe(5)
    expect(listed.reason).toMatch(/^after: "Parse Config" is not a job name/)
    expect(failure(lines('---', 'after: [a, {b: 1}]', '---', 'x')).reason).toMatch(/^after: \{"b":1\} is not a job name/)
  })

  it('a bad builder', () => {
    expect(failure(lines('---', `builders: ${'b'.repeat(129)}`, '---', 'x')).reason).toMatch(/^builders: .* is not a peer id or tag/)
    expect(failure(lines('---', 'builders:', '  - gpu', '  - "two words"', '---', 'x')).line).toBe(4)
    expect(failure(lines('---', 'builders: [""]', '---', 'x')).line).toBe(2)
  })

  it('a list that is too long', () => {
    const err = failure(lines('---', 'name: e', `owns: [${Array.from({ length: MAX_OWNS_GLOBS + 1 }, (_, i) => `f${i}`).join(', ')}]`, '---', 'x'))
    expect(err.line).toBe(3)
    expect(err.reason).toBe(`owns: lists at most ${MAX_OWNS_GLOBS} globs`)
  })

  it('front matter that is not keys and values', () => {
    expect(failure(lines('---', '- a', '- b', '---', 'x')).message).toBe('prompts/email.md:2: front matter must be keys and values such as "priority: 5", one a line')
    expect(failure(lines('---', '', 'just words', '---', 'x')).line).toBe(3)
  })

  it('front matter with no closing line, at line 1', () => {
    expect(failure(lines('---', 'name: email', 'hello')).message).toBe('prompts/email.md:1: the front matter has no closing "---" line')
  })

  it('YAML aliases and unknown tags', () => {
    const alias = failure(lines('---', 'after: &deps [a, b]', 'owns: *deps', '---', 'x'))
    expect(alias.line).toBe(3)
    expect(alias.reason).toMatch(/aliases/)
    const tag = failure(lines('---', 'name: email', 'priority: !big 5', '---', 'x'))
    expect(tag.line).toBe(3)
    expect(tag.reason).toMatch(/front matter is not valid YAML: Unresolved tag/)
  })
})
