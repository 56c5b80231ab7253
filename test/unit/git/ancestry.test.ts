import { afterEach, describe, expect, it } from 'vitest'
import { chmodSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { deflateSync } from 'node:zlib'
import path from 'node:path'
import { TestRepo, git, gitRaw, gitSucceeds } from '../../helpers/git-repo.js'
import { isAncestorCommit, isAncestorInLooseObjects } from '../../../src/git/ancestry.js'
import { locateRepository } from '../../../src/git/repository.js'
import { LOOSE_ANCESTRY_COMMITS } from '../../../src/git/constants.js'

/** git's answer: `merge-base --is-ancestor` exits 0 for yes, 1 for no, 128 when an object is missing. */
const gitSaysAncestor = (dir: string, ancestor: string, descendant: string): boolean =>
  gitSucceeds(dir, ['merge-base', '--is-ancestor', ancestor, descendant])

/** Turns every packed object of the repository at `dir` into a loose one. */
function unpackAll (dir: string): void {
  const packDir = path.join(dir, '.git', 'objects', 'pack')
  for (const name of readdirSync(packDir).filter(n => n.endsWith('.pack'))) {
    const pack = readFileSync(path.join(packDir, name))
    for (const ext of ['.pack', '.idx', '.rev']) rmSync(path.join(packDir, name.replace(/\.pack$/, ext)), { force: true })
    gitRaw(dir, ['unpack-objects', '-q'], { input: pack })
  }
}

describe('ancestry checks (git merge-base --is-ancestor is the oracle)', () => {
  const repos: TestRepo[] = []
  const fresh = (): TestRepo => { const repo = TestRepo.init(); repos.push(repo); return repo }
  afterEach(() => { for (const repo of repos.splice(0)) rmSync(repo.dir, { recursive: true, force: true }) })

  /** main: c1 - c2 - c3 - merge(c3, s2) - c5; side: c2 - s1 - s2. */
  const history = (): { repo: TestRepo, commits: string[] } => {
    const repo = fresh()
    const commits: string[] = []
    repo.write('a.txt', '1\n'); commits.push(repo.commit('c1'))
    repo.write('a.txt', '2\n'); commits.push(repo.commit('c2'))
    repo.git(['checkout', '-q', '-b', 'side'])
    repo.write('s.txt', '1\n'); commits.push(repo.commit('s1'))
    repo.write('s.txt', '2\n'); commits.push(repo.commit('s2'))
    repo.git(['checkout', '-q', '-'])
    repo.write('a.txt', '3\n'); commits.push(repo.commit('c3'))
    repo.git(['merge', '-q', '--no-edit', 'side'])
    commits.push(repo.revParse('HEAD'))
    repo.write('a.txt', '5\n'); commits.push(repo.commit('c5'))
    return { repo, commits }
  }

  it('agrees with git on every pair of commits: in-process while loose, through git once packed', async () => {
    const { repo, commits } = history()
    const paths = await locateRepository(repo.dir)
    let answeredByGit = 0
    for (const packed of [false, true]) {
      if (packed) repo.git(['gc', '-q'])
      for (const ancestor of commits) {
        for (const descendant of commits) {
          const expected = gitSaysAncestor(repo.dir, ancestor, descendant)
          const label = `${ancestor} of ${descendant}, packed: ${packed}`
          expect(await isAncestorCommit(paths, ancestor, descendant), label).toBe(expected)
          const inProcess = await isAncestorInLooseObjects(paths.commonDir, ancestor, descendant)
          if (packed) expect(inProcess, label).toBeUndefined()
          else if (inProcess !== undefined) expect(inProcess, label).toBe(expected)
          else answeredByGit++
        }
      }
    }
    // Loose, only the walks longer than LOOSE_ANCESTRY_COMMITS (c5 down to c1, for one) went to git.
    expect(answeredByGit).toBeGreaterThan(0)
    expect(answeredByGit).toBeLessThan(commits.length * commits.length / 4)
  })

  it('says no for a missing object, a tree or a blob, as git does; leaves a missing one to git', async () => {
    const { repo, commits } = history()
    const paths = await locateRepository(repo.dir)
    const head = commits.at(-1)!
    const missing = 'e'.repeat(40)
    const tree = repo.revParse('HEAD^{tree}')
    const blob = repo.revParse('HEAD:a.txt')
    for (const [ancestor, descendant] of [[missing, head], [head, missing], [missing, missing], [tree, head], [blob, head], [tree, tree], [commits[0]!, tree]]) {
      expect(gitSaysAncestor(repo.dir, ancestor!, descendant!)).toBe(false)
      expect(await isAncestorCommit(paths, ancestor!, descendant!)).toBe(false)
    }
    expect(await isAncestorInLooseObjects(paths.commonDir, missing, head)).toBeUndefined()
    expect(await isAncestorInLooseObjects(paths.commonDir, tree, head)).toBe(false)
    expect(await isAncestorInLooseObjects(paths.commonDir, commits[0]!, tree)).toBe(false)
  })

  it('leaves a corrupt loose commit (its content does not hash to its name) to git', async () => {
    const { repo, commits } = history()
    const paths = await locateRepository(repo.dir)
    const [c1, c2] = commits
    const file = path.join(paths.objectDir, c2!.slice(0, 2), c2!.slice(2))
    chmodSync(file, 0o644)
    writeFileSync(file, deflateSync(Buffer.from('commit 3\0bad')))
    expect(await isAncestorInLooseObjects(paths.commonDir, c1!, c2!)).toBeUndefined()
    expect(await isAncestorCommit(paths, c1!, c2!)).toBe(gitSaysAncestor(repo.dir, c1!, c2!))
  })

  it('walks at most LOOSE_ANCESTRY_COMMITS commits in-process, and git answers beyond', async () => {
    const repo = fresh()
    const chain: string[] = []
    for (let i = 0; i < LOOSE_ANCESTRY_COMMITS + 4; i++) {
      repo.write('a.txt', `${i}\n`)
      chain.push(repo.commit(`c${i}`))
    }
    const paths = await locateRepository(repo.dir)
    const head = chain.at(-1)!
    expect(await isAncestorInLooseObjects(paths.commonDir, chain.at(-3)!, head)).toBe(true)
    expect(await isAncestorInLooseObjects(paths.commonDir, chain[0]!, head)).toBeUndefined()
    expect(await isAncestorCommit(paths, chain[0]!, head)).toBe(true)
  })

  it('stops at shallow commits of a depth-limited copy, as git does', async () => {
    const { repo, commits } = history()
    const clone = `${repo.dir}-shallow`
    git(path.dirname(repo.dir), ['clone', '-q', '--depth', '2', '--no-checkout', `file://${repo.dir}`, clone])
    try {
      unpackAll(clone)
      const paths = await locateRepository(clone)
      const [merge, head] = commits.slice(-2)
      // The merge is the shallow boundary (its parents were not fetched); it is head's parent.
      expect(await isAncestorInLooseObjects(paths.commonDir, merge!, head!)).toBe(true)
      for (const ancestor of commits) {
        for (const descendant of commits.slice(-2)) {
          const expected = gitSaysAncestor(clone, ancestor, descendant)
          expect(await isAncestorCommit(paths, ancestor, descendant), `${ancestor} of ${descendant}`).toBe(expected)
          // Commits cut off by the shallow boundary are missing: those are left to git.
          const inProcess = await isAncestorInLooseObjects(paths.commonDir, ancestor, descendant)
          if (inProcess !== undefined) expect(inProcess, `${ancestor} of ${descendant}, in-process`).toBe(expected)
        }
      }
    } finally {
      rmSync(clone, { recursive: true, force: true })
    }
  })
})
