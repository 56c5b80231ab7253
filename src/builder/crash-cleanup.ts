import { readdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { pruneWorktrees } from './worktree.js'

/** The builder's cache repositories under `reposRoot` (`<author>/<key>.git`, job-runner.ts). */
async function cacheRepos (reposRoot: string): Promise<string[]> {
  const repos: string[] = []
  for (const author of await readdir(reposRoot).catch(() => [] as string[])) {
    for (const name of await readdir(path.join(reposRoot, author)).catch(() => [] as string[])) {
      if (name.endsWith('.git')) repos.push(path.join(reposRoot, author, name))
    }
  }
  return repos
}

/**
 * Removes the temporary files a killed writer left in `objectDir`: git writes each loose object
 * (and pack) to `tmp_obj_*` (`tmp_pack_*`, `tmp_idx_*`, …) and renames it into place, and
 * writeFileAtomic (iso-fs.ts) names its own `tmp_obj_gitmesh_*`. A kill -9 between the write and
 * the rename leaves a half-written file that nothing ever removes (`git fsck` only warns
 * "garbage found"; `git gc` is never run here, and `git prune` would also drop the unreferenced
 * result commits). Returns how many were removed.
 */
export async function removeTemporaryObjects (objectDir: string): Promise<number> {
  let removed = 0
  const dirs = ['.', 'pack', ...(await readdir(objectDir).catch(() => [] as string[])).filter(name => /^[0-9a-f]{2}$/.test(name))]
  for (const dir of dirs) {
    for (const name of await readdir(path.join(objectDir, dir)).catch(() => [] as string[])) {
      if (!name.startsWith('tmp_')) continue
      await rm(path.join(objectDir, dir, name), { force: true })
      removed++
    }
  }
  return removed
}

/**
 * What a crashed run left in the cache repositories, cleaned before any job runs again (the
 * worktree folders themselves are removed by the builder): git's entries for the removed
 * worktrees (their HEAD, index and any `index.lock` a killed `git add` held), which would
 * otherwise stay listed as prunable for good, and half-written objects. Runs at start, when no
 * job of this process writes there yet; a git command of the crashed run that outlived it loses
 * its temporary file, and its work was going to be discarded anyway.
 * (Received packs left in quarantine are removed by the exchange when it opens the repository.)
 */
export async function cleanCacheRepos (reposRoot: string): Promise<void> {
  for (const repo of await cacheRepos(reposRoot)) {
    await pruneWorktrees(repo)
    await removeTemporaryObjects(path.join(repo, 'objects'))
  }
}
