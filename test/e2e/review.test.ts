import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, readdirSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import Database from 'libsql'
import { CLI_PATH, runCli } from '../../src/demo/processes.js'
import { git, JobRig, type JobView } from '../helpers/job-rig.js'

/** A prompt for the built-in generator: write `file` with exactly `content`. */
function writes (what: string, file: string, content: string): string {
  return `${what}\n\n\`\`\`txt path=${file}\n${content}\`\`\`\n`
}

/**
 * The builder's generator: the built-in one, after writing 300 files under many/ when the prompt
 * says MANY-FILES, so that the author's merge spends a while writing files (a window to kill it in).
 */
const GENERATOR = `if grep -q MANY-FILES "$GITMESH_PROMPT_FILE"; then mkdir -p many && for i in $(seq 1 300); do echo "file $i" > many/f$i.txt; done; fi; exec '${process.execPath}' '${CLI_PATH}' generate-blocks`

/** Commits `file` with `content` in the user's repository, as the user would. */
async function commitFile (repo: string, file: string, content: string): Promise<void> {
  await writeFile(path.join(repo, file), content)
  git(repo, 'add', file)
  git(repo, 'commit', '-q', '-m', `add ${file}`)
}

/** Temporary files of gitmesh's own naming in a folder of the repository. */
function tempFiles (repo: string, folder = '.'): string[] {
  const dir = path.join(repo, folder)
  return existsSync(dir) ? readdirSync(dir).filter(name => /^\.gitmesh-[0-9a-f]+\.tmp$/.test(name)) : []
}

/** Polls (bounded, every 2 ms: the windows are short) until `condition` holds; false when time ran out. */
async function soon (condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 2))
  }
  return true
}

const NOTES = 'line one\nline two\nline three\n'

describe('review: accept keeps the job\'s change apart from the user\'s, and never dead-ends', () => {
  let rig: JobRig
  // One author and builder for the whole file: starting them is most of a test's time.
  beforeAll(async () => { rig = await JobRig.start(['--generate', GENERATOR]) }, 60_000)
  afterAll(async () => { await rig?.stop() })

  it('accepts a line the job appended below an uncommitted line of the user\'s, committing only the job\'s line', async () => {
    await commitFile(rig.repo, 'append.txt', NOTES)
    await writeFile(path.join(rig.repo, 'append.txt'), `${NOTES}my own line\n`)
    const job = await rig.offer(writes('append a line', 'append.txt', `${NOTES}my own line\njob line\n`), ['--name', 'append'])
    await rig.waitFor(job.name, ['returned'])
    const merged = await rig.cli<JobView>(['merge', job.name])
    expect(merged.merge?.conflicts).toEqual([])
    const accepted = await rig.cli<JobView>(['accept', job.name])
    expect(accepted.state).toBe('accepted')
    expect(git(rig.repo, 'show', 'HEAD:append.txt')).toBe(`${NOTES}job line`)
    // the user's line is still there, uncommitted, and is all `git diff` shows
    expect(await readFile(path.join(rig.repo, 'append.txt'), 'utf8')).toBe(`${NOTES}my own line\njob line\n`)
    expect(git(rig.repo, 'status', '--porcelain', '--', 'append.txt')).toBe(' M append.txt')
    expect(git(rig.repo, 'diff', '-U0', 'append.txt').split('\n').filter(line => /^[-+][^-+]/.test(line))).toEqual(['+my own line'])
  }, 60_000)

  it('names the file and the job\'s lines when its change rewrites the user\'s own uncommitted edit, and --with-my-edits commits the file as it stands', async () => {
    await commitFile(rig.repo, 'reword.txt', NOTES)
    await writeFile(path.join(rig.repo, 'reword.txt'), 'line one\nline two, mine\nline three\n')
    const job = await rig.offer(writes('reword line two', 'reword.txt', 'line one\nline two, by the job\nline three\n'), ['--name', 'reword'])
    await rig.waitFor(job.name, ['returned'])
    await rig.cli<JobView>(['merge', job.name])
    const head = git(rig.repo, 'rev-parse', 'HEAD')
    const refused = await runCli(rig.authorHome, ['accept', job.name])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain("reword.txt (content, the job's line 2)")
    expect(refused.stderr).toContain(`\`gitmesh accept ${job.name} --with-my-edits\``)
    expect(git(rig.repo, 'rev-parse', 'HEAD')).toBe(head)
    expect((await rig.show(job.name)).state).toBe('merged')

    const accepted = await rig.cli<JobView>(['accept', job.name, '--with-my-edits'])
    expect(accepted.state).toBe('accepted')
    expect(git(rig.repo, 'show', 'HEAD:reword.txt')).toBe('line one\nline two, by the job\nline three')
    expect(git(rig.repo, 'status', '--porcelain', '--', 'reword.txt')).toBe('')
  }, 60_000)

  it('refuses to accept while the merged files still hold conflict markers, naming files and lines, unless --force', async () => {
    await commitFile(rig.repo, 'markers.txt', NOTES)
    const job = await rig.offer(writes('reword line two', 'markers.txt', 'line one\nline two, by the job\nline three\n'), ['--name', 'markers'])
    await rig.waitFor(job.name, ['returned'])
    await writeFile(path.join(rig.repo, 'markers.txt'), 'line one\nline two, by me\nline three\n')
    const merged = await rig.cli<JobView>(['merge', job.name])
    expect(merged.merge?.conflicts).toEqual(['markers.txt'])
    const conflicted = await readFile(path.join(rig.repo, 'markers.txt'), 'utf8')
    const head = git(rig.repo, 'rev-parse', 'HEAD')

    const refused = await runCli(rig.authorHome, ['accept', job.name])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('conflict markers are still in markers.txt (lines 2, 6)')
    expect(refused.stderr).toContain('--force')
    expect(git(rig.repo, 'rev-parse', 'HEAD')).toBe(head)
    expect((await rig.show(job.name)).state).toBe('merged')

    const forced = await rig.cli<JobView>(['accept', job.name, '--force'])
    expect(forced.state).toBe('accepted')
    expect(git(rig.repo, 'show', 'HEAD:markers.txt')).toBe('line one\nline two, by the job\nline three')
    // the markers stay in the working tree, uncommitted, as the user left them
    expect(await readFile(path.join(rig.repo, 'markers.txt'), 'utf8')).toBe(conflicted)
  }, 60_000)

  describe('crash safety: the author killed (kill -9) during merge and accept, then restarted', () => {
    /** The user's own uncommitted work, which no crash may touch. */
    const mine = { 'mine.txt': 'committed, then edited by me\n', 'scratch.txt': 'untracked work of mine\n' }

    beforeAll(async () => {
      await commitFile(rig.repo, 'mine.txt', 'committed\n')
      for (const [file, content] of Object.entries(mine)) await writeFile(path.join(rig.repo, file), content)
    })

    /** Kills the author from git's reference-transaction hook when HEAD's branch reaches `state`. */
    async function killAuthorWhenHeadMoves (state: 'prepared' | 'committed'): Promise<string> {
      const hook = path.join(rig.repo, '.git', 'hooks', 'reference-transaction')
      // At `prepared` the hook's failure also aborts the update: HEAD never moves.
      await writeFile(hook, `#!/bin/sh\n[ "$1" = ${state} ] || exit 0\ngrep -q ' refs/heads/main$' || exit 0\nkill -9 ${rig.author.child.pid!}\nexit ${state === 'prepared' ? 1 : 0}\n`, { mode: 0o755 })
      return hook
    }

    /** After a restart: the user's work is as it was, gitmesh left nothing behind, and the job is in a state it can finish from. */
    async function expectIntact (job: string, file: string): Promise<JobView> {
      for (const [name, content] of Object.entries(mine)) expect(await readFile(path.join(rig.repo, name), 'utf8')).toBe(content)
      expect(tempFiles(rig.repo)).toEqual([])
      expect(tempFiles(rig.repo, 'many')).toEqual([])
      expect(existsSync(path.join(rig.repo, '.git', 'index.lock'))).toBe(false)
      // nothing staged by a half-done accept: the index agrees with HEAD
      expect(git(rig.repo, 'diff', '--cached', '--name-only')).toBe('')
      const view = await rig.show(job)
      expect(['returned', 'merged', 'accepted']).toContain(view.state)
      if (view.state === 'returned') {
        expect(view.merge).toBeNull()
        expect(existsSync(path.join(rig.repo, file))).toBe(false)
      } else {
        expect(existsSync(path.join(rig.repo, file))).toBe(true)
      }
      if (view.state === 'accepted') expect(git(rig.repo, 'rev-parse', 'HEAD')).toBe(view.acceptedCommit)
      return view
    }

    /** Brings the job to `accepted` from wherever the crash left it. */
    async function finish (job: string): Promise<void> {
      if ((await rig.show(job)).state === 'returned') await rig.cli(['merge', job])
      if ((await rig.show(job)).state === 'merged') await rig.cli(['accept', job])
      const done = await rig.show(job)
      expect(done.state).toBe('accepted')
      expect(git(rig.repo, 'diff', '--cached', '--name-only')).toBe('')
    }

    it('a merge killed while writing a file leaves no temporary file and is rolled back; the job can still finish', async () => {
      const job = await rig.offer(writes('MANY-FILES and a small one', 'small.txt', 'small\n'), ['--name', 'many'])
      await rig.waitFor(job.name, ['returned'])
      // Tries (at most 4) until the kill lands while a file is written under its temporary name;
      // a try that misses is still a crash to recover from.
      let caught = false
      for (let trial = 0; trial < 4 && !caught; trial++) {
        let done = false
        const merging = runCli(rig.authorHome, ['merge', job.name]).finally(() => { done = true })
        await soon(() => done || tempFiles(rig.repo, 'many').length > 0, 30_000)
        await rig.author.kill()
        await merging
        caught = tempFiles(rig.repo, 'many').length === 1
        await rig.restart('author')
        if ((await expectIntact(job.name, 'small.txt')).state !== 'returned') break
      }
      expect(caught).toBe(true)
      expect((await rig.show(job.name)).state).toBe('returned')
      expect(existsSync(path.join(rig.repo, 'many')) ? readdirSync(path.join(rig.repo, 'many')) : []).toEqual([])
      await finish(job.name)
      expect(git(rig.repo, 'show', '--name-only', '--format=', 'HEAD').split('\n')).toHaveLength(301)
    }, 90_000)

    it('a merge records that it is in progress before it writes W0\'s ref', async () => {
      const job = await rig.offer(writes('write w0 file', 'w0.txt', 'w0\n'), ['--name', 'record-first'])
      await rig.waitFor(job.name, ['returned'])
      const ref = path.join(rig.repo, '.git', 'refs', 'gitmesh', 'w0', job.name)
      const merging = runCli(rig.authorHome, ['merge', job.name])
      expect(await soon(() => existsSync(ref), 30_000)).toBe(true)
      await rig.author.kill()
      await merging
      const db = new Database(path.join(rig.authorHome, 'gitmesh.db'), { readonly: true })
      try {
        const row = db.prepare('SELECT state, merge FROM jobs WHERE name = ?').get(job.name) as { state: string, merge: string | null }
        expect(row.merge).not.toBeNull()
        expect(row.state === 'merged' || (JSON.parse(row.merge!) as { inProgress: boolean }).inProgress).toBe(true)
      } finally {
        db.close()
      }
      await rig.restart('author')
      await expectIntact(job.name, 'w0.txt')
      await finish(job.name)
    }, 90_000)

    it('an accept killed holding the index lock: the restart removes gitmesh\'s own lock, HEAD never moved, and accept works', async () => {
      const job = await rig.offer(writes('write locked file', 'locked.txt', 'locked\n'), ['--name', 'locked'])
      await rig.waitFor(job.name, ['returned'])
      await rig.cli(['merge', job.name])
      const head = git(rig.repo, 'rev-parse', 'HEAD')
      const hook = await killAuthorWhenHeadMoves('prepared')
      expect((await runCli(rig.authorHome, ['accept', job.name])).code).not.toBe(0)
      await rm(hook)
      expect(existsSync(path.join(rig.repo, '.git', 'index.lock'))).toBe(true)
      expect(git(rig.repo, 'rev-parse', 'HEAD')).toBe(head)
      await rig.restart('author')
      expect((await expectIntact(job.name, 'locked.txt')).state).toBe('merged')
      await finish(job.name)
    }, 90_000)

    it('an accept killed right after HEAD moved is finished on restart: the job is accepted and the index brought along', async () => {
      const job = await rig.offer(writes('write moved file', 'moved.txt', 'moved\n'), ['--name', 'moved'])
      await rig.waitFor(job.name, ['returned'])
      await rig.cli(['merge', job.name])
      const hook = await killAuthorWhenHeadMoves('committed')
      expect((await runCli(rig.authorHome, ['accept', job.name])).code).not.toBe(0)
      await rm(hook)
      // HEAD moved to the job's commit, and the index was cut off before it followed
      const head = git(rig.repo, 'rev-parse', 'HEAD')
      expect(git(rig.repo, 'log', '-1', '--format=%B')).toContain(`Gitmesh-Job: moved (${job.id})`)
      expect(git(rig.repo, 'diff', '--cached', '--name-only')).toBe('moved.txt')
      await rig.restart('author')
      const view = await expectIntact(job.name, 'moved.txt')
      expect(view).toMatchObject({ state: 'accepted', acceptedCommit: head })
    }, 90_000)

    it('an accept whose commit is on HEAD but was never recorded (a database from before the accept record) is recognised by its Gitmesh-Job trailer', async () => {
      const job = await rig.offer(writes('write trailer file', 'trailer.txt', 'trailer\n'), ['--name', 'trailer'])
      await rig.waitFor(job.name, ['returned'])
      await rig.cli(['merge', job.name])
      const hook = await killAuthorWhenHeadMoves('committed')
      expect((await runCli(rig.authorHome, ['accept', job.name])).code).not.toBe(0)
      await rm(hook)
      const head = git(rig.repo, 'rev-parse', 'HEAD')
      // as an older gitmesh would have left it: HEAD moved, the job merged, no record of the commit
      const db = new Database(path.join(rig.authorHome, 'gitmesh.db'))
      try {
        const row = db.prepare('SELECT merge FROM jobs WHERE name = ?').get(job.name) as { merge: string }
        const merge = JSON.parse(row.merge) as { accepting?: unknown }
        expect(merge.accepting).toBeDefined()
        delete merge.accepting
        db.prepare('UPDATE jobs SET merge = ? WHERE name = ?').run(JSON.stringify(merge), job.name)
      } finally {
        db.close()
      }
      await rig.restart('author')
      expect((await rig.show(job.name)).state).toBe('merged')
      const accepted = await rig.cli<JobView>(['accept', job.name])
      expect(accepted).toMatchObject({ state: 'accepted', acceptedCommit: head })
      await expectIntact(job.name, 'trailer.txt')
    }, 90_000)

    it('kills at increasing delays during merge and accept always leave a consistent state the job finishes from', async () => {
      const delays = [200, 400, 600]
      const jobs = await Promise.all(delays.map(async (_, i) => await rig.offer(writes(`write loop file ${i}`, `loop-${i}.txt`, `loop ${i}\n`), ['--name', `loop-${i}`])))
      for (const job of jobs) await rig.waitFor(job.name, ['returned'])
      for (const [i, delay] of delays.entries()) {
        const name = `loop-${i}`
        for (const command of ['merge', 'accept']) {
          const running = runCli(rig.authorHome, [command, name])
          await new Promise(resolve => setTimeout(resolve, delay))
          await rig.author.kill()
          await running
          await rig.restart('author')
          await expectIntact(name, `loop-${i}.txt`)
        }
        await finish(name)
      }
    }, 120_000)
  })
})
