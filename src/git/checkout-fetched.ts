import { BareRepositoryError } from './errors.js'
import { gitText, runGit } from './git-process.js'
import { locateRepository, type RepositoryPaths } from './repository.js'

export interface FetchedCheckout {
  /** True when the working tree now holds the commit, on a detached HEAD. */
  checkedOut: boolean
  /** Why it was left alone, when it was: the user's work there comes first. */
  reason?: string
}

/**
 * Checks a fetched commit out in the repository it was fetched into, on a detached HEAD, when
 * that loses nothing: the repository is new (no commit on HEAD, no files), or HEAD is detached
 * (an earlier fetch's checkout) and the working tree is clean. A branch, or any uncommitted or
 * untracked file, is left alone and the reason is given.
 */
export async function checkOutFetched (dir: string, commit: string): Promise<FetchedCheckout> {
  let repo: RepositoryPaths
  try {
    repo = await locateRepository(dir)
  } catch (err) {
    if (err instanceof BareRepositoryError) return { checkedOut: false, reason: 'the repository is bare' }
    throw err
  }
  const workTree = repo.workTree!
  const head = await gitText(['rev-parse', '-q', '--verify', 'HEAD^{commit}'], { cwd: workTree, okExitCodes: [1] })
  const branch = await gitText(['symbolic-ref', '-q', 'HEAD'], { cwd: workTree, okExitCodes: [1] })
  if (head !== '' && branch !== '') return { checkedOut: false, reason: `HEAD is on ${branch.replace(/^refs\/heads\//, '')}` }
  const status = await gitText(['status', '--porcelain', '--untracked-files=all', '--ignored=no'], { cwd: workTree })
  if (status !== '') return { checkedOut: false, reason: 'the working tree has uncommitted or untracked files' }
  await runGit(['checkout', '-q', '--detach', commit, '--'], { cwd: workTree })
  return { checkedOut: true }
}
