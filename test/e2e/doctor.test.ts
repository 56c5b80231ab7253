import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { runCli, runCliJson, startDaemon, type DaemonProcess } from '../../src/demo/processes.js'
import type { DoctorCheck } from '../../src/daemon/views.js'
import { git } from '../helpers/job-rig.js'

interface DoctorReport { ok: boolean, checks: DoctorCheck[] }

async function doctor (home: string, args: string[] = []): Promise<{ code: number, report: DoctorReport }> {
  const result = await runCli(home, ['doctor', '--json', ...args])
  return { code: result.code, report: JSON.parse(result.stdout) as DoctorReport }
}

function find (report: DoctorReport, area: DoctorCheck['area'], subject: string): DoctorCheck | undefined {
  return report.checks.find(check => check.area === area && check.subject.startsWith(subject))
}

describe('gitmesh doctor', () => {
  let root: string
  let authorHome: string
  let builderHome: string
  let author: DaemonProcess
  let builder: DaemonProcess
  let repo: string

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'gitmesh-doctor-'))
    authorHome = path.join(root, 'author')
    builderHome = path.join(root, 'builder')
    repo = path.join(root, 'project')
    await runCliJson(authorHome, ['init'])
    await runCliJson(builderHome, ['init'])
    author = await startDaemon(authorHome)
    builder = await startDaemon(builderHome, ['--builder', '--generate', 'no-such-agent-here --go'])
    git(root, 'init', '-q', '-b', 'main', repo)
  })

  afterAll(async () => {
    await Promise.all([author?.stop(), builder?.stop()])
    await rm(root, { recursive: true, force: true })
  })

  it('says which trusted peer does not trust this node back, and the exact command that fixes it', async () => {
    // The author trusts the builder; the builder does not trust the author yet.
    await runCliJson(authorHome, ['trust', builder.peerId, '--role', 'builder', '--addr', builder.addrs[0]!])
    const before = await doctor(authorHome)
    expect(before.code).toBe(1)
    expect(before.report.ok).toBe(false)
    const peer = find(before.report, 'peer', builder.peerId)
    // The builder's gater refuses an untrusted author: the connection itself fails.
    expect(peer?.status).toBe('fail')

    // Trusted, but in the wrong role: connected, and the answer names the missing role.
    await runCliJson(builderHome, ['trust', author.peerId, '--role', 'builder', '--addr', author.addrs[0]!])
    const wrongRole = find((await doctor(authorHome)).report, 'peer', builder.peerId)
    expect(wrongRole).toMatchObject({ status: 'fail' })
    expect(wrongRole?.detail).toContain('not as author')
    expect(wrongRole?.fix).toBe(`on that node run: gitmesh trust ${author.peerId} --role author`)

    await runCliJson(builderHome, ['trust', author.peerId, '--role', 'author'])
    const after = await doctor(authorHome)
    expect(find(after.report, 'peer', builder.peerId)).toMatchObject({ status: 'ok' })
    expect(find(after.report, 'daemon', authorHome)?.status).toBe('ok')
    // Its listen address is probed for real and answers.
    expect(after.report.checks.filter(check => check.area === 'network' && check.status === 'ok').length).toBeGreaterThan(0)
  })

  it('on a builder, reports a generator whose program is not on the PATH jobs get', async () => {
    const { code, report } = await doctor(builderHome)
    expect(code).toBe(1)
    const generator = find(report, 'builder', 'generator')
    expect(generator).toMatchObject({ status: 'fail' })
    expect(generator?.detail).toContain('no-such-agent-here is not found')
    expect(find(report, 'builder', 'slots')?.status).toBe('ok')
  })

  it('checks the repository\'s gitmesh.json and warns about a test program missing here', async () => {
    const missing = await doctor(authorHome, ['--repo', repo])
    expect(find(missing.report, 'project', path.join(repo, 'gitmesh.json'))).toMatchObject({ status: 'fail' })
    expect(find(missing.report, 'project', path.join(repo, 'gitmesh.json'))?.detail).toContain('missing')

    await writeFile(path.join(repo, 'gitmesh.json'), JSON.stringify({ test: 'no-such-runner --all' }))
    const unknownProgram = await doctor(authorHome, ['--repo', repo])
    expect(find(unknownProgram.report, 'project', 'test command')).toMatchObject({ status: 'warn' })

    await writeFile(path.join(repo, 'gitmesh.json'), JSON.stringify({ test: 'sh test.sh', attempts: 2 }))
    const valid = await doctor(authorHome, ['--repo', repo])
    expect(find(valid.report, 'project', path.join(repo, 'gitmesh.json'))).toMatchObject({ status: 'ok', detail: 'valid: test `sh test.sh`, 2 attempts' })
    expect(find(valid.report, 'project', 'test command')).toBeUndefined()
  })

  it('without a daemon, says so and how to start one, with exit code 1', async () => {
    const home = path.join(root, 'idle')
    await runCliJson(home, ['init'])
    const { code, report } = await doctor(home)
    expect(code).toBe(1)
    expect(find(report, 'daemon', home)).toMatchObject({ status: 'fail' })
    expect(find(report, 'daemon', home)?.fix).toContain('gitmesh --home')
    const text = await runCli(home, ['doctor'])
    expect(text.stdout).toContain('FAIL')
    expect(text.stdout).toContain('fix: start it')
  })
})
