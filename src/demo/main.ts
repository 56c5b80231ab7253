import '../polyfill.js'
import { appendFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pc from 'picocolors'
import { runCliJson, startDaemon, type DaemonProcess } from './processes.js'
import { makeSampleRepo } from './sample-repo.js'

interface FetchResult { objects: number, bytes: number, roundTrips: number, ms: number }

/**
 * `npm run demo`: two nodes in temporary homes on loopback trust each other; the author snapshots
 * a generated repository and shares it, the builder fetches it; a file changes, the builder
 * fetches again. Everything goes through the `gitmesh` command, as a user would run it.
 */
async function main (): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'gitmesh-demo-'))
  const daemons: DaemonProcess[] = []
  const step = (text: string): void => { process.stdout.write(`${pc.cyan('›')} ${text}\n`) }
  try {
    const authorHome = path.join(root, 'author-home')
    const builderHome = path.join(root, 'builder-home')
    const repo = path.join(root, 'project')
    const into = path.join(root, 'builder-copy')

    step('two nodes in temporary homes')
    await runCliJson(authorHome, ['init'])
    await runCliJson(builderHome, ['init'])
    const author = await startDaemon(authorHome)
    daemons.push(author)
    const builder = await startDaemon(builderHome)
    daemons.push(builder)
    process.stdout.write(`  author  ${author.peerId}\n  builder ${builder.peerId}\n`)

    step('they trust each other')
    await runCliJson(authorHome, ['trust', builder.peerId, '--role', 'builder', '--addr', builder.addrs[0]!])
    await runCliJson(builderHome, ['trust', author.peerId, '--role', 'author', '--addr', author.addrs[0]!])

    step('the author snapshots a generated 400-file project and shares it')
    await makeSampleRepo(repo)
    await appendFile(path.join(repo, 'NOTES.md'), 'an untracked file travels too\n')
    const first = await runCliJson<{ commit: string }>(authorHome, ['share', 'snapshot', '--with', builder.peerId, '--repo', repo])
    process.stdout.write(`  snapshot ${first.commit}\n`)

    step('the builder fetches it (cold)')
    const cold = await runCliJson<FetchResult>(builderHome, ['fetch', author.peerId, first.commit, '--into', into])
    report(cold)

    step('a file changes; the author shares a new snapshot; the builder fetches again (warm)')
    await appendFile(path.join(repo, 'src/module3/part1/file13.ts'), 'export const edited = true\n')
    const second = await runCliJson<{ commit: string }>(authorHome, ['share', 'snapshot', '--with', builder.peerId, '--repo', repo])
    const warm = await runCliJson<FetchResult>(builderHome, ['fetch', author.peerId, second.commit, '--into', into])
    report(warm)

    process.stdout.write(`\n${pc.green('done')}: cold ${cold.objects} objects in ${cold.ms} ms, one-file change ${warm.objects} objects in ${warm.ms} ms, ${warm.roundTrips} round trip\n`)
  } finally {
    await Promise.all(daemons.map(async d => await d.stop()))
    await rm(root, { recursive: true, force: true })
  }
}

function report (r: FetchResult): void {
  process.stdout.write(`  moved ${r.objects} objects, ${r.bytes} bytes on the wire, ${r.roundTrips} round trip${r.roundTrips === 1 ? '' : 's'}, ${r.ms} ms\n`)
}

main().catch(err => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
