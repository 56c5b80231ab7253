import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, runCliJson, startDaemon, type DaemonProcess } from '../../src/demo/processes.js'
import { callDaemon } from '../../src/daemon/control-client.js'
import { Home } from '../../src/home/home.js'
import { parsePromptFile } from '../../src/watch/prompt-file.js'
import { TestRepo } from '../helpers/git-repo.js'

/**
 * The three public edges of a job's options — `gitmesh offer` flags, the control API (`offer`,
 * `submit-task`) and a prompt file's front matter — given the same values must agree: each
 * refuses the same bad values with the same rule, naming the field as its user spells it, and
 * takes the same good ones. Real `gitmesh` processes, a real daemon, real prompt-file parsing.
 */

type Field = 'name' | 'attempts' | 'priority' | 'after' | 'owns' | 'fanout' | 'builders' | 'stack'
type Input = Partial<Record<Field, unknown>>

interface Case {
  input: Input
  /** For a bad input: the field the refusal names and a piece of its rule; absent for a good one. */
  refused?: { field: Field, rule: string }
}

const FLAG: Record<Field, string> = { name: '--name', attempts: '--attempts', priority: '--priority', after: '--after', owns: '--owns', fanout: '--fanout', builders: '--builder', stack: '--stack' }

const bad = (field: Field, value: unknown, rule: string, input: Input = {}): Case => ({ input: { ...input, [field]: value }, refused: { field, rule } })
const good = (input: Input): Case => ({ input })
const many = (n: number, item: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => item(i))

const CASES: Case[] = [
  bad('owns', ['/etc/**'], 'is an absolute path'),
  bad('owns', ['\\\\server\\share'], 'is an absolute path'),
  bad('owns', ['~/notes/*'], 'is an absolute path'),
  bad('owns', ['C:/src/*'], 'is an absolute path'),
  bad('owns', ['!src/**'], 'is negated'),
  bad('owns', ['../elsewhere/**'], 'has a ".." segment'),
  bad('owns', ['src/../../x'], 'has a ".." segment'),
  bad('owns', ['{src,..}/x'], 'has a ".." segment'),
  bad('owns', ['src\\..\\..\\x'], 'has a ".." segment'),
  bad('owns', [''], 'is empty'),
  bad('owns', ['  '], 'is empty'),
  bad('owns', ['src/\u0007/x'], 'contains a control character'),
  bad('owns', ['src/[abc'], 'is not a valid glob'),
  bad('owns', ['x'.repeat(257)], 'is longer than 256 characters'),
  bad('owns', many(65, i => `f${i}/**`), 'lists at most 64 globs'),
  bad('name', 'Email_Check', 'is not a job name'),
  bad('name', 'a'.repeat(49), 'is not a job name'),
  bad('after', ['Data Model'], 'is not a job name'),
  bad('after', many(65, i => `dep-${i}`), 'lists at most 64 names'),
  bad('builders', ['gpu box'], 'is not a peer id or tag'),
  bad('builders', ['b'.repeat(129)], 'is not a peer id or tag'),
  bad('builders', many(33, i => `tag${i}`), 'lists at most 32 peer ids or tags'),
  bad('priority', 1001, 'must be a whole number between -1000 and 1000'),
  bad('priority', -1001, 'must be a whole number between -1000 and 1000'),
  bad('fanout', 0, 'must be a whole number between 1 and 8'),
  bad('fanout', 9, 'must be a whole number between 1 and 8'),
  bad('attempts', 0, 'must be a whole number between 1 and 20'),
  bad('attempts', 21, 'must be a whole number between 1 and 20'),
  bad('stack', true, 'needs exactly one after job to stack on (0 given)'),
  bad('stack', true, 'needs exactly one after job to stack on (2 given)', { after: ['one', 'two'] }),
  good({ owns: ['src/email/**', 'test/email/*.ts'] }),
  good({ owns: ['.github/workflows/*.yml', 'a..b/c', 'x'.repeat(256)] }),
  good({ owns: many(64, i => `f${i}/**`) }),
  good({ name: 'email-check' }),
  good({ name: 'a'.repeat(48) }),
  good({ after: ['data-model'], stack: true }),
  good({ builders: ['gpu', '12D3KooWLpmQXjUL9S3ZHtCzbvLBj9Hh7Vz3bDWULMkDr7cUfQMR'] }),
  good({ builders: many(32, i => `tag${i}`) }),
  good({ priority: -1000, fanout: 8, attempts: 20 })
]

/** `gitmesh offer` arguments for an input: one flag per list entry, a switch for `stack: true`. */
function flags (input: Input): string[] {
  return Object.entries(input).flatMap(([field, value]) => {
    const flag = FLAG[field as Field]
    if (typeof value === 'boolean') return value ? [flag] : []
    return (Array.isArray(value) ? value : [value]).flatMap(item => [flag, String(item)])
  })
}

/** A prompt file for an input: its front matter is the input as YAML (JSON is YAML). */
function promptFile (input: Input): string {
  return ['---', ...Object.entries(input).map(([key, value]) => `${key}: ${JSON.stringify(value)}`), '---', 'Validate email addresses.', ''].join('\n')
}

type Verdict = { ok: true } | { ok: false, message: string }

describe('task options: the same verdict at every edge', () => {
  let root: string
  let home: string
  let daemon: DaemonProcess
  let repo: TestRepo
  let socket: { path: string, home: string }

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'gitmesh-edges-'))
    home = path.join(root, 'home')
    await runCliJson(home, ['init'])
    daemon = await startDaemon(home)
    const resolved = Home.resolve(home)
    socket = { path: resolved.socketPath, home: resolved.dir }
    repo = TestRepo.init({ dir: path.join(root, 'project') })
    writeFileSync(path.join(repo.dir, 'gitmesh.json'), JSON.stringify({ test: 'true' }) + '\n')
    repo.git(['add', '.'])
    repo.git(['commit', '-q', '-m', 'init'])
  })

  afterAll(async () => {
    await daemon?.stop()
    await rm(root, { recursive: true, force: true })
  })

  let offered = 0
  /** A name for a good input that gives none, so its offers do not collide. */
  const withName = (input: Input): Input => input.name !== undefined ? input : { ...input, name: `job-${++offered}` }

  async function cliVerdict (input: Input): Promise<Verdict> {
    const result = await runCli(home, ['offer', '--repo', repo.dir, '-m', 'Validate email addresses.', ...flags(withName(input))])
    if (result.code === 0) return { ok: true }
    expect(result.code, result.stderr).toBe(2)
    return { ok: false, message: result.stderr }
  }

  async function apiVerdict (method: 'offer' | 'submit-task', input: Input): Promise<Verdict> {
    try {
      await callDaemon(socket.path, socket.home, method, { repo: repo.dir, prompt: 'Validate email addresses.', ...withName(input) })
      return { ok: true }
    } catch (err) {
      expect((err as Error).name).toBe('InvalidRequestError')
      return { ok: false, message: (err as Error).message }
    }
  }

  function fileVerdict (input: Input): Verdict {
    try {
      parsePromptFile(promptFile(input), 'prompts/task.md')
      return { ok: true }
    } catch (err) {
      expect((err as Error).name).toBe('PromptFileError')
      return { ok: false, message: (err as Error).message }
    }
  }

  it.each(CASES.map(c => [c.refused === undefined ? `takes ${JSON.stringify(c.input).slice(0, 70)}` : `refuses ${c.refused.field}: ${c.refused.rule} (${JSON.stringify(c.input).slice(0, 50)})`, c] as const))('%s', async (_title, { input, refused }) => {
    const file = fileVerdict(input)
    // A good input's job is offered by the CLI, then once more by `offer` under another name; a
    // name given in the input is submitted again instead, which a named task allows.
    const cli = await cliVerdict(input)
    const api = await apiVerdict(refused === undefined && input.name !== undefined ? 'submit-task' : 'offer', input)
    const submitted = refused === undefined ? api : await apiVerdict('submit-task', { name: 'submitted', ...input })
    if (refused === undefined) {
      expect({ file, api, submitted, cli }).toEqual({ file: { ok: true }, api: { ok: true }, submitted: { ok: true }, cli: { ok: true } })
      return
    }
    const rule = refused.rule
    expect(file).toEqual({ ok: false, message: expect.stringMatching(new RegExp(`^prompts/task\\.md:\\d+: ${refused.field}: `)) })
    expect(api).toEqual({ ok: false, message: expect.stringMatching(new RegExp(`^${refused.field}: `)) })
    expect(submitted).toEqual(api)
    expect(cli).toEqual({ ok: false, message: expect.stringContaining(`${FLAG[refused.field]}: `) })
    for (const verdict of [file, api, cli]) expect(verdict.ok === false && verdict.message).toContain(rule)
  }, 20_000)

  it('points at the front-matter line of the refused key', () => {
    expect(() => parsePromptFile(['---', 'name: ok', 'after: [a, b]', 'stack: true', '---', 'x', ''].join('\n'), 'p.md'))
      .toThrow('p.md:4: stack: needs exactly one after job to stack on (2 given)')
    expect(() => parsePromptFile(['---', 'owns:', '  - src/**', '  - /etc/**', '---', 'x', ''].join('\n'), 'p.md'))
      .toThrow('p.md:4: owns: "/etc/**" is an absolute path')
  })
})
