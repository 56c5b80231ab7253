import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli } from '../../src/demo/processes.js'
import { blockingGenerator, git, JobRig, waitUntil, type JobView } from '../helpers/job-rig.js'

const GREET = 'write a greeting file\n\n```txt path=greet.txt\nhello world\n```\n'

describe('jobs end to end: offer, build, return, review', () => {
  let rig: JobRig | undefined
  const scratch: string[] = []
  afterEach(async () => {
    await rig?.stop()
    rig = undefined
    for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true })
  })

  it('offers a prompt, builds and tests it on the builder, returns it, and merges and accepts only the job\'s change', async () => {
    rig = await JobRig.start()
    const offered = await rig.offer(GREET)
    expect(offered.name).toBe('greeting-file')
    expect(offered.id).toMatch(/^[0-9a-f]{12}$/)
    const returned = await rig.waitFor(offered.name, ['returned'])
    expect(returned.result).toMatchObject({ passed: true, builder: rig.builder.peerId })
    expect(returned.attempts).toEqual([expect.objectContaining({ number: 1, passed: true })])
    // B's objects are here, its parent is S, and a ref names it
    expect(git(rig.repo, 'rev-parse', `refs/gitmesh/results/${offered.name}`)).toBe(returned.result!.commit)
    expect(git(rig.repo, 'rev-parse', `${returned.result!.commit}^`)).toBe(returned.snapshot)
    expect(git(rig.repo, 'cat-file', '-p', `${returned.result!.commit}:greet.txt`)).toBe('hello world')

    // the user edits another file meanwhile; the merge keeps that edit
    await writeFile(path.join(rig.repo, 'notes.txt'), 'line one\nline two, edited by me\nline three\n')
    const diff = await runCli(rig.authorHome, ['diff', offered.name])
    expect(diff.stdout).toContain('+hello world')
    const merged = await rig.cli<JobView>(['merge', offered.name])
    expect(merged.state).toBe('merged')
    expect(merged.merge).toMatchObject({ conflicts: [], testPassed: true })
    expect(await readFile(path.join(rig.repo, 'greet.txt'), 'utf8')).toBe('hello world\n')

    const accepted = await rig.cli<JobView>(['accept', offered.name])
    expect(accepted.state).toBe('accepted')
    expect(git(rig.repo, 'rev-parse', 'HEAD')).toBe(accepted.acceptedCommit)
    expect(git(rig.repo, 'show', '--name-only', '--format=', 'HEAD')).toBe('greet.txt')
    const message = git(rig.repo, 'log', '-1', '--format=%B')
    expect(message).toContain('greeting file')
    expect(message).toContain(`Gitmesh-Builder: ${rig.builder.peerId}`)
    // the user's own edit is still there, uncommitted; nothing else is
    expect(git(rig.repo, 'status', '--porcelain')).toBe(' M notes.txt')
    expect(await readFile(path.join(rig.repo, 'notes.txt'), 'utf8')).toContain('edited by me')
  }, 90_000)

  it('retries with the test output appended to the prompt, and passes on the second attempt', async () => {
    rig = await JobRig.start()
    const job = await rig.offer('greet wrongly\n\n```txt path=greet.txt\nhello moon\n```\n', ['--name', 'retry-me'])
    const returned = await rig.waitFor(job.name, ['returned'])
    expect(returned.result?.passed).toBe(true)
    expect(returned.attempts.map(a => a.passed)).toEqual([false, true])
    const logged = await rig.cli<JobView>(['show', job.name, '--log'])
    expect(logged.attempts[0]!.log).toContain('greet.txt must say hello world')
    expect(git(rig.repo, 'cat-file', '-p', `${returned.result!.commit}:greet.txt`)).toBe('hello world')
  }, 90_000)

  it('returns a failing result when the tests never pass, and offer --wait exits 6', async () => {
    rig = await JobRig.start()
    const waited = await runCli(rig.authorHome, ['offer', '--repo', rig.repo, '--attempts', '2', '--json', '--wait', '-m', 'make it fail\n\n```txt path=fail.txt\nboom\n```\n'])
    expect(waited.code).toBe(6)
    const job = JSON.parse(waited.stdout) as JobView
    expect(job.state).toBe('returned')
    expect(job.result?.passed).toBe(false)
    expect(job.attempts.map(a => a.passed)).toEqual([false, false])
  }, 90_000)

  it('a conflicting user edit gets conflict markers; reject restores the working tree byte for byte; reject -m offers it again', async () => {
    rig = await JobRig.start()
    const job = await rig.offer('rewrite the notes\n\n```txt path=notes.txt\nline one\nline two, by the job\nline three\n```\n', ['--name', 'notes'])
    await rig.waitFor(job.name, ['returned'])
    await writeFile(path.join(rig.repo, 'notes.txt'), 'line one\nline two, by me\nline three\n')
    await writeFile(path.join(rig.repo, 'scratch.txt'), 'untracked work\n')
    const before = { status: git(rig.repo, 'status', '--porcelain'), notes: await readFile(path.join(rig.repo, 'notes.txt')), scratch: await readFile(path.join(rig.repo, 'scratch.txt')) }

    const merged = await rig.cli<JobView>(['merge', job.name])
    expect(merged.merge?.conflicts).toEqual(['notes.txt'])
    const conflicted = await readFile(path.join(rig.repo, 'notes.txt'), 'utf8')
    expect(conflicted).toContain('<<<<<<<')
    expect(conflicted).toContain('>>>>>>>')
    // a second merge into the same working tree waits for this one to be resolved
    const other = await rig.offer(GREET)
    await rig.waitFor(other.name, ['returned'])
    const refused = await runCli(rig.authorHome, ['merge', other.name])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('notes')

    const rejected = await rig.cli<JobView>(['reject', job.name])
    expect(rejected.state).toBe('rejected')
    expect(git(rig.repo, 'status', '--porcelain')).toBe(before.status)
    expect(await readFile(path.join(rig.repo, 'notes.txt'))).toEqual(before.notes)
    expect(await readFile(path.join(rig.repo, 'scratch.txt'))).toEqual(before.scratch)

    // the other job merges cleanly now, and its rejection with -m offers it again
    await rig.cli<JobView>(['merge', other.name])
    const again = await rig.cli<JobView>(['reject', other.name, '-m', 'and say it twice'])
    expect(again.state).toBe('queued')
    expect(again.round).toBe(2)
    const second = await rig.waitFor(other.name, ['returned'])
    expect(second.round).toBe(2)
    expect(second.prompt).toContain('and say it twice')
    expect(existsSync(path.join(rig.repo, 'greet.txt'))).toBe(false)
  }, 120_000)

  it('a job waits in the queue until a builder takes it, and the daemon prints a notice for its result', async () => {
    rig = await JobRig.start()
    // the builder does not yet trust the author as an author: it declines, and the job waits
    await runCli(rig.builderHome, ['untrust', rig.author.peerId])
    await rig.cli(['trust', rig.builder.peerId, '--role', 'builder'])
    await runCli(rig.builderHome, ['trust', rig.author.peerId, '--addr', rig.author.addrs[0]!])
    const job = await rig.offer(GREET)
    expect((await rig.show(job.name)).state).toBe('queued')
    await runCli(rig.builderHome, ['trust', rig.author.peerId, '--role', 'author'])
    const returned = await rig.waitFor(job.name, ['returned'])
    expect(returned.result?.passed).toBe(true)
    await waitUntil(() => rig!.author.lines.some(line => line.includes('"event":"result"') && line.includes(job.name)))
  }, 90_000)

  it('refuses an offer from a repository without gitmesh.json, naming the file, unless --test is given', async () => {
    rig = await JobRig.start()
    git(rig.repo, 'rm', '-q', 'gitmesh.json')
    const refused = await runCli(rig.authorHome, ['offer', '--repo', rig.repo, '-m', GREET])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('gitmesh.json')
    await writeFile(path.join(rig.repo, 'gitmesh.json'), '{"test": 42}\n')
    const broken = await runCli(rig.authorHome, ['offer', '--repo', rig.repo, '-m', GREET])
    expect(broken.code).toBe(2)
    expect(broken.stderr).toContain('test')
    // a broken file is an error even with --test; a missing one is not
    await rm(path.join(rig.repo, 'gitmesh.json'))
    const job = await rig.offer(GREET, ['--test', 'sh test.sh'])
    expect((await rig.waitFor(job.name, ['returned'])).result?.passed).toBe(true)
  }, 90_000)

  it('cancel stops the job on the builder, killing its generator', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-gen-'))
    scratch.push(dir)
    const generator = blockingGenerator(dir)
    rig = await JobRig.start(['--generate', generator.command])
    const job = await rig.offer(GREET)
    await rig.waitFor(job.name, ['generating'])
    const pid = Number((await readFile(generator.pidFile, 'utf8')).trim())
    expect(isAlive(pid)).toBe(true)
    const cancelled = await rig.cli<JobView>(['cancel', job.name])
    expect(cancelled.state).toBe('cancelled')
    await waitUntil(() => !isAlive(pid))
    // the builder holds no worktree for it any more
    const worktrees = path.join(rig.builderHome, 'builder', 'worktrees')
    await waitUntil(() => !existsSync(worktrees) || !readdirSync(worktrees).some(name => name.includes(job.id)))
  }, 90_000)

  it('kill -9 of the builder mid-generation: after a restart the job runs again and returns', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-gen-'))
    scratch.push(dir)
    const generator = blockingGenerator(dir)
    rig = await JobRig.start(['--generate', generator.command])
    const job = await rig.offer(GREET)
    await rig.waitFor(job.name, ['generating'])
    const orphan = Number((await readFile(generator.pidFile, 'utf8')).trim())
    await rig.restart('builder', true)
    // the restarted builder ends the generator its crashed run left behind
    await waitUntil(() => !isAlive(orphan))
    await writeFile(generator.release, '')
    const returned = await rig.waitFor(job.name, ['returned'], 60_000)
    expect(returned.result?.passed).toBe(true)
  }, 120_000)

  it('kill -9 of the author before the result arrives: the builder keeps it and delivers it after the restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-gen-'))
    scratch.push(dir)
    const generator = blockingGenerator(dir)
    rig = await JobRig.start(['--generate', generator.command])
    const job = await rig.offer(GREET)
    await rig.waitFor(job.name, ['generating'])
    await rig.author.kill()
    await writeFile(generator.release, '')
    await rig.restart('author', false)
    const returned = await rig.waitFor(job.name, ['returned'], 60_000)
    expect(returned.result?.passed).toBe(true)
    expect(git(rig.repo, 'rev-parse', `refs/gitmesh/results/${job.name}`)).toBe(returned.result!.commit)
  }, 120_000)
})

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return !/State:\s+Z/.test(status)
  } catch {
    return false
  }
}

