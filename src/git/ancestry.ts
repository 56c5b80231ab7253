import git from 'isomorphic-git'
import { looseObjectsIsoFs } from './iso-fs.js'
import { looseObjectType } from './loose-read.js'
import { runGit } from './git-process.js'
import { LOOSE_ANCESTRY_COMMITS } from './constants.js'
import type { RepositoryPaths } from './repository.js'

/**
 * True when `ancestor` is the commit `descendant` or one of its ancestors; false, as with
 * `git merge-base --is-ancestor`, when either is missing or not a commit. Answered in-process from
 * loose objects when the walk is short (see `isAncestorInLooseObjects`), by git otherwise.
 * The object store checks both ids with its long-lived `cat-file` first, so a peer's want that
 * names a large blob is never read in full to learn that it is not a commit.
 */
export async function isAncestorCommit (repo: RepositoryPaths, ancestor: string, descendant: string): Promise<boolean> {
  const answer = await isAncestorInLooseObjects(repo.commonDir, ancestor, descendant)
  if (answer !== undefined) return answer
  const { exitCode } = await runGit(['merge-base', '--is-ancestor', ancestor, descendant], { cwd: repo.gitDir, okExitCodes: [1, 128] })
  return exitCode === 0
}

/**
 * isomorphic-git's `isDescendent` over loose objects only (`commonDir` holds `objects` and
 * `shallow`; parents of shallow commits are not walked, as git does not). Undefined when it cannot
 * tell: an object is packed, missing or corrupt, or the walk would go past `maxCommits` commits.
 */
export async function isAncestorInLooseObjects (commonDir: string, ancestor: string, descendant: string, maxCommits = LOOSE_ANCESTRY_COMMITS): Promise<boolean | undefined> {
  try {
    // isDescendent only compares ids: the ancestor must be shown to be a commit first.
    const type = await looseObjectType(commonDir, ancestor)
    if (type === undefined) return undefined
    if (type !== 'commit') return false
    if (ancestor === descendant) return true
    return await git.isDescendent({ fs: looseObjectsIsoFs, gitdir: commonDir, oid: descendant, ancestor, depth: maxCommits })
  } catch (err) {
    const code = (err as { code?: string }).code
    // A tree or blob on the way: git refuses it too (exit 128).
    if (code === 'ObjectTypeError') return false
    // InternalError: a loose object that does not hash to its name; git decides, as before.
    if (code === 'NotFoundError' || code === 'MaxDepthError' || code === 'InternalError') return undefined
    throw err
  }
}
