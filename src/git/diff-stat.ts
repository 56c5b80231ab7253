import { runGit } from './git-process.js'
import { locateRepository } from './repository.js'

/** How big a change is: what `git diff --numstat` counts. */
export interface DiffStat {
  files: number
  /** Lines added, over text files (a binary file counts as a file, with no lines). */
  added: number
  removed: number
}

/** Sums `git diff --numstat -z --no-renames` output: `added\tremoved\tpath\0` per file, `-` for binary. */
export function parseNumstat (text: string): DiffStat {
  const stat: DiffStat = { files: 0, added: 0, removed: 0 }
  for (const entry of text.split('\0')) {
    const match = /^(\d+|-)\t(\d+|-)\t/.exec(entry)
    if (match === null) continue
    stat.files++
    if (match[1] !== '-') stat.added += Number(match[1])
    if (match[2] !== '-') stat.removed += Number(match[2])
  }
  return stat
}

/** The size of the change between two commits of the repository (renames count as delete and add). */
export async function diffStat (repoDir: string, from: string, to: string, options: { signal?: AbortSignal } = {}): Promise<DiffStat> {
  const repo = await locateRepository(repoDir)
  const { stdout } = await runGit(['--git-dir', repo.gitDir, 'diff', '--numstat', '-z', '--no-renames', from, to, '--'], { cwd: repo.workTree ?? repo.gitDir, signal: options.signal })
  return parseNumstat(stdout.toString('utf8'))
}
