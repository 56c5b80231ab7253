import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/**
 * The stand-ins are only worth their tests while they refuse what the real agents refuse: a
 * preset that drops a flag the agent needs must fail against its stand-in too. (They load the
 * built generator from dist/: run `npm run build` first.)
 */
const dir = fileURLToPath(new URL('../fixtures/agents', import.meta.url))
const run = (agent: string, args: string[], input = ''): { status: number | null, output: string } => {
  const result = spawnSync(`${dir}/${agent}`, args, { input, encoding: 'utf8', env: { ...process.env, GITMESH_PROMPT_FILE: '/nonexistent/prompt.md' } })
  return { status: result.status, output: result.stdout + result.stderr }
}

describe('the agent stand-ins', () => {
  it('print a version as the agents do', () => {
    expect(run('claude', ['--version'])).toEqual({ status: 0, output: '2.1.59 (Claude Code)\n' })
    expect(run('codex', ['--version']).output).toBe('codex-cli 0.77.0\n')
  })

  it('refuse an unknown flag with the usage code of the agent\'s argument parser', () => {
    expect(run('claude', ['-p', '--frobnicate'], 'x').status).toBe(1)
    expect(run('codex', ['exec', '--frobnicate', '-'], 'x')).toMatchObject({ status: 2, output: expect.stringContaining("unexpected argument '--frobnicate'") })
    expect(run('aider', ['--frobnicate']).status).toBe(2)
    expect(run('gemini', ['--frobnicate']).status).toBe(1)
    expect(run('opencode', ['run', '--frobnicate'], 'x').status).toBe(1)
  })

  it('refuse what the real agents refuse: stream-json without --verbose, an empty prompt, a bare codex', () => {
    expect(run('claude', ['-p', '--output-format', 'stream-json'], 'x')).toMatchObject({ status: 1, output: expect.stringContaining('requires --verbose') })
    expect(run('codex', ['exec', '--skip-git-repo-check', '-'], '')).toMatchObject({ status: 1, output: expect.stringContaining('No prompt provided via stdin.') })
    expect(run('codex', ['fix it']).status).toBe(2)
    expect(run('opencode', ['run'], '')).toMatchObject({ status: 1, output: expect.stringContaining('You must provide a message or a command') })
    expect(run('aider', ['--message-file', '/nonexistent/prompt.md'])).toMatchObject({ status: 1, output: expect.stringContaining('Message file not found') })
  })
})
