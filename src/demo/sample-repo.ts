import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { runGit } from '../git/git-process.js'

/** Writes a small deterministic project (nested folders of text files) and commits it. */
export async function makeSampleRepo (dir: string, files = 400): Promise<void> {
  await mkdir(dir, { recursive: true })
  await runGit(['init', '-q', '-b', 'main'], { cwd: dir })
  for (let i = 0; i < files; i++) {
    const folder = path.join(dir, 'src', `module${i % 10}`, `part${i % 4}`)
    await mkdir(folder, { recursive: true })
    const lines = Array.from({ length: 30 + (i % 50) }, (_, n) => `export const value${n} = ${(i * 7919 + n * 104729) % 1000003}`)
    await writeFile(path.join(folder, `file${i}.ts`), lines.join('\n') + '\n')
  }
  await writeFile(path.join(dir, 'README.md'), '# sample\n')
  const env = { ...process.env, GIT_AUTHOR_NAME: 'demo', GIT_AUTHOR_EMAIL: 'demo@example.invalid', GIT_COMMITTER_NAME: 'demo', GIT_COMMITTER_EMAIL: 'demo@example.invalid' }
  await runGit(['add', '-A'], { cwd: dir, env })
  await runGit(['commit', '-q', '-m', 'sample project'], { cwd: dir, env })
}
