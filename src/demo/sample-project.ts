import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { runGit } from '../git/git-process.js'

/**
 * The demo's project: a few JavaScript modules and a test runner (`node test.js`) that checks
 * each module that exists. A failing check prints what it expected — as a fenced block naming
 * the file — which the retry loop feeds back to the generator.
 */
const TEST_RUNNER = `const fs = require('node:fs')
const checks = {
  'src/email.js': (m) => m.isEmail('ada@example.org') && !m.isEmail('not an email') && !m.isEmail('a@b'),
  'src/slug.js': (m) => m.slugify('Hello, World!') === 'hello-world' && m.slugify('  Many   spaces ') === 'many-spaces',
  'src/sum.js': (m) => m.sum([1, 2, 3]) === 6 && m.sum([]) === 0
}
const fixes = {
  'src/slug.js': "module.exports.slugify = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')\\n"
}
let failed = 0
for (const [file, check] of Object.entries(checks)) {
  if (!fs.existsSync(file)) continue
  let ok = false
  try { ok = check(require('./' + file)) } catch (err) { console.log(file + ' threw: ' + err.message) }
  console.log((ok ? 'ok   ' : 'FAIL ') + file)
  if (!ok) {
    failed++
    if (fixes[file]) console.log('\\nExpected behaviour, for example:\\n\\n\`\`\`js path=' + file + '\\n' + fixes[file] + '\`\`\`\\n')
  }
}
process.exit(failed === 0 ? 0 : 1)
`

export async function makeSampleProject (dir: string): Promise<void> {
  await mkdir(path.join(dir, 'src'), { recursive: true })
  await writeFile(path.join(dir, 'test.js'), TEST_RUNNER)
  await writeFile(path.join(dir, 'gitmesh.json'), JSON.stringify({ test: 'node test.js', attempts: 3, timeouts: { generate: '1m', test: '1m' } }, null, 2) + '\n')
  await writeFile(path.join(dir, 'README.md'), '# sample\n\nSmall helpers, written by gitmesh builders.\n')
  await writeFile(path.join(dir, 'src', 'index.js'), "module.exports = {}\n")
  const env = { ...process.env, GIT_AUTHOR_NAME: 'demo', GIT_AUTHOR_EMAIL: 'demo@example.invalid', GIT_COMMITTER_NAME: 'demo', GIT_COMMITTER_EMAIL: 'demo@example.invalid' }
  await runGit(['init', '-q', '-b', 'main'], { cwd: dir })
  await runGit(['add', '-A'], { cwd: dir, env })
  await runGit(['commit', '-q', '-m', 'sample project'], { cwd: dir, env })
}

/** Three prompts for the built-in generator; the slug one starts with a bug the tests catch. */
export const SAMPLE_PROMPTS = [
  'write a function to validate email addresses\n\n```js path=src/email.js\nmodule.exports.isEmail = (text) => /^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$/.test(text)\n```\n',
  'add a slugify helper for titles\n\n```js path=src/slug.js\nmodule.exports.slugify = (text) => text.toLowerCase().replace(/ /g, \'-\')\n```\n',
  'implement a sum over a list of numbers\n\n```js path=src/sum.js\nmodule.exports.sum = (values) => values.reduce((a, b) => a + b, 0)\n```\n'
]
