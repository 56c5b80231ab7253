import { execFileSync } from 'node:child_process'
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { applyFencedBlocks, main, parseFencedBlocks, UnsafeBlockPathError } from '../../../src/generators/fenced-blocks.js'

const FENCE = '```'

describe('parseFencedBlocks', () => {
  it('finds a block with a path, its content exactly, its info and its line', () => {
    const markdown = `Write an email validator.\n\n${FENCE}ts path=src/email.ts\nexport const a = 1\n\nexport const b = 2\n${FENCE}\nThanks.\n`
    expect(parseFencedBlocks(markdown)).toEqual([
      { path: 'src/email.ts', content: 'export const a = 1\n\nexport const b = 2\n', info: 'ts path=src/email.ts', line: 3 }
    ])
  })

  it('reads quoted paths and a path anywhere in the info string', () => {
    const markdown = [
      `${FENCE}md path="docs/my notes.md"`, 'a', FENCE,
      "~~~ path='x y/z.txt' title=z", 'b', '~~~',
      `${FENCE}js {highlight} path=lib/c.js`, 'c', FENCE,
      ''
    ].join('\n')
    expect(parseFencedBlocks(markdown).map(b => [b.path, b.content])).toEqual([
      ['docs/my notes.md', 'a\n'], ['x y/z.txt', 'b\n'], ['lib/c.js', 'c\n']
    ])
  })

  it('skips blocks without a path, and fences inside them stay content', () => {
    const markdown = [
      '````md', 'an example, not a file:', `${FENCE}ts path=src/not-a-file.ts`, 'x', FENCE, '````',
      `${FENCE}sh`, 'npm test', FENCE,
      `${FENCE}ts mypath=src/no.ts`, 'y', FENCE,
      ''
    ].join('\n')
    expect(parseFencedBlocks(markdown)).toEqual([])
  })

  it('closes only on the same character, at least as long, with nothing after it', () => {
    const markdown = [
      '````md path=README.md',
      `${FENCE}ts`, 'inner', FENCE, // shorter: content
      '~~~~', // other character: content
      '```` not closing', // has text after it: content
      '`````', // longer: closes
      '~~~ path=notes.txt',
      FENCE, // backticks do not close a tilde fence
      '~~~~   ', // longer, trailing spaces: closes
      ''
    ].join('\n')
    const blocks = parseFencedBlocks(markdown)
    expect(blocks).toEqual([
      { path: 'README.md', content: `${FENCE}ts\ninner\n${FENCE}\n~~~~\n\`\`\`\` not closing\n`, info: 'md path=README.md', line: 1 },
      { path: 'notes.txt', content: `${FENCE}\n`, info: 'path=notes.txt', line: 8 }
    ])
  })

  it('follows CommonMark on indentation and backticks in the info string', () => {
    const markdown = [
      `   ${FENCE}ts path=three-spaces.ts`, 'a', `   ${FENCE}`,
      `    ${FENCE}ts path=four-spaces-is-code.ts`, 'b', FENCE,
      `${FENCE}ts path=a\`b.ts`, 'c', FENCE,
      ''
    ].join('\n')
    // The four-space line is not a fence, so the closing fence after `b` opens a pathless block,
    // which the line with a backtick in its info string cannot open or close; `c`'s fence closes it.
    expect(parseFencedBlocks(markdown).map(b => b.path)).toEqual(['three-spaces.ts'])
  })

  it('drops a block left open at the end', () => {
    const markdown = `${FENCE}ts path=a.ts\nfirst\n${FENCE}\n${FENCE}ts path=b.ts\ncut short`
    expect(parseFencedBlocks(markdown).map(b => b.path)).toEqual(['a.ts'])
  })

  it('keeps CRLF line endings, empty blocks, and a closing fence at the very end', () => {
    expect(parseFencedBlocks(`${FENCE}txt path=a.txt\r\nx\r\ny\r\n${FENCE}\r\n`)).toMatchObject([{ path: 'a.txt', content: 'x\r\ny\r\n' }])
    expect(parseFencedBlocks(`${FENCE} path=empty.txt\n${FENCE}`)).toMatchObject([{ path: 'empty.txt', content: '' }])
    expect(parseFencedBlocks(`${FENCE} path=no-newline.txt\nlast\n${FENCE}`)).toMatchObject([{ content: 'last\n' }])
  })

  it('sees no blocks in test output appended inside a fence of its own', () => {
    // Why the builder must append test output as plain text for the retry design to work.
    const output = `FAIL: use\n${FENCE}ts path=src/email.ts\nfixed\n${FENCE}\n`
    const prompt = `${FENCE}ts path=src/email.ts\nfirst\n${FENCE}\n`
    expect(parseFencedBlocks(`${prompt}\nOutput:\n${output}`).map(b => b.content)).toEqual(['first\n', 'fixed\n'])
    expect(parseFencedBlocks(`${prompt}\nOutput:\n${FENCE}\n${output}${FENCE}\n`).map(b => b.content)).toEqual(['first\n'])
  })

  it('reports an empty path as empty, for applyFencedBlocks to refuse', () => {
    expect(parseFencedBlocks(`${FENCE}ts path=\nx\n${FENCE}\n${FENCE}ts path=""\ny\n${FENCE}\n`).map(b => b.path)).toEqual(['', ''])
  })
})

describe('applyFencedBlocks', () => {
  let root: string
  let worktree: string

  beforeEach(() => {
    root = realpathSync(mkdtempSync(path.join(tmpdir(), 'gitmesh-blocks-')))
    worktree = path.join(root, 'worktree')
    mkdirSync(worktree)
  })
  afterEach(() => { rmSync(root, { recursive: true, force: true }) })

  const block = (blockPath: string, content: string, lang = 'ts'): string => `${FENCE}${lang} path=${blockPath}\n${content}${FENCE}\n`
  const listFiles = (dir: string, base = ''): string[] => readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const relative = base === '' ? entry.name : `${base}/${entry.name}`
    return entry.isDirectory() ? listFiles(path.join(dir, entry.name), relative) : [relative]
  }).sort()

  it('writes each file, creating folders, with the exact content', async () => {
    const markdown = `Intro\n${block('src/email.ts', 'export {}\n')}\n${block('test/deep/er/email.test.ts', 'ünïcødé\n\n')}`
    expect(await applyFencedBlocks(markdown, worktree)).toEqual({ written: ['src/email.ts', 'test/deep/er/email.test.ts'] })
    expect(readFileSync(path.join(worktree, 'src/email.ts'), 'utf8')).toBe('export {}\n')
    expect(readFileSync(path.join(worktree, 'test/deep/er/email.test.ts'), 'utf8')).toBe('ünïcødé\n\n')
  })

  it('lets a later block for the same path win, listing the file once', async () => {
    const markdown = block('a.ts', 'first\n') + block('b.ts', 'b\n') + block('./a.ts', 'second\n') + block('a.ts', 'third\n')
    expect(await applyFencedBlocks(markdown, worktree)).toEqual({ written: ['a.ts', 'b.ts'] })
    expect(readFileSync(path.join(worktree, 'a.ts'), 'utf8')).toBe('third\n')
  })

  it('replaces an existing file and keeps its mode', async () => {
    const script = path.join(worktree, 'run.sh')
    writeFileSync(script, 'old\n')
    chmodSync(script, 0o755)
    await applyFencedBlocks(block('run.sh', '#!/bin/sh\necho new\n', 'sh'), worktree)
    expect(readFileSync(script, 'utf8')).toBe('#!/bin/sh\necho new\n')
    expect(statSync(script).mode & 0o777).toBe(0o755)
  })

  it('normalizes . and empty components', async () => {
    expect(await applyFencedBlocks(block('./src//./a.ts', 'x\n'), worktree)).toEqual({ written: ['src/a.ts'] })
  })

  it.each([
    ['/etc/passwd', /absolute/],
    ['../outside.txt', /\.\./],
    ['src/../../outside.txt', /\.\./],
    ['.git/config', /\.git/],
    ['.GIT/hooks/pre-commit', /\.git/],
    ['sub/.Git/config', /\.git/],
    ['.git./config', /\.git/],
    ['git~1/config', /\.git/],
    ['""', /empty/],
    ['./', /folder|empty/],
    ['src/', /folder/],
    ['a\\b.ts', /backslash/]
  ])('refuses %s before writing anything', async (unsafe, reason) => {
    const markdown = block('first.ts', 'written first?\n') + block(unsafe, 'x\n') + block('last.ts', 'x\n')
    const failure = applyFencedBlocks(markdown, worktree)
    await expect(failure).rejects.toBeInstanceOf(UnsafeBlockPathError)
    await expect(failure).rejects.toMatchObject({ name: 'UnsafeBlockPathError', path: unsafe.replaceAll('"', ''), message: expect.stringMatching(reason), line: 4 })
    expect(listFiles(root)).toEqual([])
  })

  it('refuses a path through a symbolic link, or onto one, leaving the target alone', async () => {
    const outside = path.join(root, 'outside')
    mkdirSync(outside)
    writeFileSync(path.join(outside, 'secret.txt'), 'keep\n')
    symlinkSync(outside, path.join(worktree, 'link'))
    symlinkSync(path.join(outside, 'secret.txt'), path.join(worktree, 'file-link.txt'))
    await expect(applyFencedBlocks(block('link/secret.txt', 'overwritten\n'), worktree))
      .rejects.toMatchObject({ name: 'UnsafeBlockPathError', message: expect.stringContaining('link is a symbolic link') })
    await expect(applyFencedBlocks(block('file-link.txt', 'overwritten\n'), worktree))
      .rejects.toMatchObject({ name: 'UnsafeBlockPathError', message: expect.stringContaining('symbolic link') })
    expect(readFileSync(path.join(outside, 'secret.txt'), 'utf8')).toBe('keep\n')
  })

  it('refuses a path under an existing file, onto a folder, or that another block writes as a file', async () => {
    writeFileSync(path.join(worktree, 'plain'), 'x')
    mkdirSync(path.join(worktree, 'folder'))
    await expect(applyFencedBlocks(block('plain/a.ts', 'x\n'), worktree)).rejects.toMatchObject({ message: expect.stringContaining('plain is a file') })
    await expect(applyFencedBlocks(block('folder', 'x\n'), worktree)).rejects.toMatchObject({ message: expect.stringContaining('not a regular file') })
    await expect(applyFencedBlocks(block('src', 'x\n') + block('src/a.ts', 'x\n'), worktree))
      .rejects.toMatchObject({ name: 'UnsafeBlockPathError', message: expect.stringContaining('src is written as a file') })
    expect(existsSync(path.join(worktree, 'src'))).toBe(false)
  })
})

describe('main (gitmesh generate-blocks)', () => {
  let root: string
  let worktree: string
  let promptFile: string
  let out: string[]
  let err: string[]

  beforeEach(() => {
    root = realpathSync(mkdtempSync(path.join(tmpdir(), 'gitmesh-generate-')))
    worktree = path.join(root, 'worktree')
    mkdirSync(worktree)
    promptFile = path.join(root, 'prompt.md')
    out = []
    err = []
  })
  afterEach(() => { rmSync(root, { recursive: true, force: true }) })

  const runMain = async (env: NodeJS.ProcessEnv = { GITMESH_PROMPT_FILE: promptFile }): Promise<number> =>
    await main({ env, cwd: worktree, stdout: line => { out.push(line) }, stderr: line => { err.push(line) } })

  it('writes the files and prints one line each', async () => {
    writeFileSync(promptFile, `Validate emails.\n${FENCE}ts path=src/email.ts\nexport {}\n${FENCE}\n${FENCE}ts path=test/email.test.ts\n// t\n${FENCE}\n`)
    expect(await runMain()).toBe(0)
    expect(out).toEqual(['wrote src/email.ts', 'wrote test/email.test.ts'])
    expect(err).toEqual([])
    expect(readFileSync(path.join(worktree, 'src/email.ts'), 'utf8')).toBe('export {}\n')
  })

  it('reads a relative prompt path from the current folder', async () => {
    writeFileSync(path.join(worktree, 'p.md'), `${FENCE} path=a.txt\na\n${FENCE}\n`)
    expect(await runMain({ GITMESH_PROMPT_FILE: 'p.md' })).toBe(0)
    expect(out).toEqual(['wrote a.txt'])
  })

  it('returns 2 with a clear message when GITMESH_PROMPT_FILE is missing', async () => {
    expect(await runMain({})).toBe(2)
    expect(err.join('\n')).toContain('GITMESH_PROMPT_FILE is not set')
    expect(out).toEqual([])
  })

  it('returns 2 with a clear message when the prompt has no path blocks', async () => {
    writeFileSync(promptFile, `Just words.\n${FENCE}ts\nno path\n${FENCE}\n`)
    expect(await runMain()).toBe(2)
    expect(err.join('\n')).toMatch(/no fenced code block naming a path.*path=src\/file\.ts/)
    expect(listAll(worktree)).toEqual([])
  })

  it('returns 1 naming the file when the prompt cannot be read', async () => {
    expect(await runMain({ GITMESH_PROMPT_FILE: path.join(root, 'missing.md') })).toBe(1)
    expect(err.join('\n')).toContain('missing.md')
  })

  it('returns 1 naming an unsafe path, having written nothing', async () => {
    writeFileSync(promptFile, `${FENCE} path=ok.txt\nx\n${FENCE}\n${FENCE} path=../escape.txt\nx\n${FENCE}\n`)
    expect(await runMain()).toBe(1)
    expect(err.join('\n')).toContain('"../escape.txt"')
    expect(out).toEqual([])
    expect(listAll(root)).toEqual(['prompt.md', 'worktree'])
  })

  it('fixes a file on the next attempt from a block in the appended test output', async () => {
    // What the builder does: generate, test, append the failing output to the prompt, generate again.
    writeFileSync(promptFile, `Write a greeting.\n${FENCE}sh path=greet.sh\necho helo\n${FENCE}\n`)
    const testScript = [
      'out=$(sh greet.sh)',
      'if [ "$out" != "hello" ]; then',
      '  echo "FAIL: greet.sh printed $out; expected hello. Use:"',
      `  printf '%s\\n' '${FENCE}sh path=greet.sh' 'echo hello' '${FENCE}'`,
      '  exit 1',
      'fi',
      'echo PASS'
    ].join('\n')
    const runTests = (): { passed: boolean, output: string } => {
      try {
        return { passed: true, output: execFileSync('/bin/sh', ['-c', testScript], { cwd: worktree, encoding: 'utf8' }) }
      } catch (e) {
        return { passed: false, output: (e as { stdout: string }).stdout }
      }
    }

    expect(await runMain()).toBe(0)
    const first = runTests()
    expect(first.passed).toBe(false)
    appendFileSync(promptFile, `\nThe tests failed:\n${first.output}`)

    expect(await runMain()).toBe(0)
    expect(readFileSync(path.join(worktree, 'greet.sh'), 'utf8')).toBe('echo hello\n')
    expect(runTests()).toEqual({ passed: true, output: 'PASS\n' })
  })
})

function listAll (dir: string): string[] {
  return readdirSync(dir).sort()
}
