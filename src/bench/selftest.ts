/**
 * Exercises the git side of the bench on its own and prints the baseline figures:
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/selftest.js
 *
 * Everything runs on loopback in a temporary folder that is removed at the end; npm tarballs are
 * cached in `.bench/cache` at the project root so only the first run downloads them.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { gitText } from '../git/git-process.js'
import { benchGitEnv, changeOneFile, makeNpmPackageRepo, makeSyntheticRepo } from './corpora.js'
import { startCountingProxy, type ByteCounts, type CountingProxy } from './counting-proxy.js'
import { allowFetchByCommitId, gitUrl, startGitDaemon, timeGitCloneDepth1, timeGitFetch, timeSnapshotBaseline, type GitDaemon } from './git-baseline.js'
import { formatBytes, formatMs, runs, summarize, timed } from './stats.js'

const CACHE_DIR = fileURLToPath(new URL('../../.bench/cache', import.meta.url))
const RUNS = 5

interface Sample {
  ms: number
  bytes: ByteCounts
}

function report (label: string, samples: Sample[]): void {
  const ms = summarize(samples.map((s) => s.ms))
  const up = summarize(samples.map((s) => s.bytes.up)).median
  const down = summarize(samples.map((s) => s.bytes.down)).median
  console.log(`${label.padEnd(40)} median ${formatMs(ms.median).padStart(9)}  (min ${formatMs(ms.min)}, p90 ${formatMs(ms.p90)}, n=${ms.n})` +
    `  wire ${formatBytes(up + down)} (up ${formatBytes(up)}, down ${formatBytes(down)})`)
}

/** Times one transfer through the proxy; the count is read once its connections have closed. */
async function measured (proxy: CountingProxy, transfer: () => Promise<{ ms: number }>): Promise<Sample> {
  await proxy.whenIdle()
  proxy.reset()
  const { ms } = await transfer()
  await proxy.whenIdle()
  return { ms, bytes: proxy.bytes() }
}

/** An empty repository, so a depth-1 fetch of any commit acts as a clone of that commit. */
async function emptyRepo (dir: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  await gitText(['init', '-q'], { cwd: dir, env: benchGitEnv() })
  return dir
}

async function main (): Promise<void> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'gitmesh-bench-selftest-'))
  const served = path.join(tmp, 'served')
  let daemon: GitDaemon | undefined
  let proxy: CountingProxy | undefined
  try {
    const built = await timed(async () => await makeSyntheticRepo(path.join(served, 'synthetic')))
    const synthetic = built.value
    console.log(`synthetic corpus: ${synthetic.files.length} files, commit ${synthetic.commit.slice(0, 12)}, built in ${formatMs(built.ms)}`)
    await allowFetchByCommitId(synthetic.dir)

    daemon = await startGitDaemon(served)
    proxy = await startCountingProxy('127.0.0.1', daemon.port)
    const p = proxy
    const url = gitUrl(p.port, 'synthetic')
    console.log(`git daemon on 127.0.0.1:${daemon.port}, counting proxy on 127.0.0.1:${p.port}`)

    const clones = await runs(RUNS, async (i) => await measured(p, async () =>
      await timeGitCloneDepth1(url, path.join(tmp, `cold-${i}`))), { warmup: 1 })
    report('git clone --depth 1 (5,000 files)', clones)

    const fetches = await runs(RUNS, async (i) => {
      const clone = path.join(tmp, `warm-${i}`)
      await timeGitCloneDepth1(url, clone)
      // A different file each run, spread over the tree, so no run benefits from the previous one.
      const next = await changeOneFile(synthetic.dir, synthetic.files[(i * 997) % synthetic.files.length]!)
      return await measured(p, async () => await timeGitFetch(clone, url, next))
    }, { warmup: 1 })
    report('git fetch --depth 1, one-file change', fetches)

    const head = await gitText(['rev-parse', 'HEAD^{tree}'], { cwd: synthetic.dir, env: benchGitEnv() })
    for (const fromRealIndex of [false, true]) {
      const snapshots = await runs(RUNS, async () => await timeSnapshotBaseline(synthetic.dir, { fromRealIndex }), { warmup: 1 })
      if (snapshots.some((s) => s.tree !== head)) throw new Error('snapshot baseline tree differs from HEAD^{tree} in a clean repository')
      report(`git add -A + write-tree (${fromRealIndex ? 'copied index' : 'empty index'})`, snapshots.map((s) => ({ ms: s.ms, bytes: { up: 0, down: 0, total: 0 } })))
    }

    const npmBuilt = await timed(async () => await makeNpmPackageRepo(path.join(served, 'npm'), CACHE_DIR))
    const npm = npmBuilt.value
    await allowFetchByCommitId(npm.dir)
    console.log(`npm corpus: ${npm.commits.length} commits (${npm.commits.map((c) => `${c.version}: ${c.files} files`).join(', ')}), built in ${formatMs(npmBuilt.ms)}`)
    const npmUrl = gitUrl(p.port, 'npm')
    const npmClones = await runs(RUNS, async (i) => await measured(p, async () =>
      await timeGitCloneDepth1(npmUrl, path.join(tmp, `npm-cold-${i}`))), { warmup: 1 })
    report(`git clone --depth 1 (npm, ${npm.commits.at(-1)!.files} files)`, npmClones)
    const [previous, latest] = npm.commits.slice(-2)
    const upgrades = await runs(RUNS, async (i) => {
      const clone = await emptyRepo(path.join(tmp, `npm-warm-${i}`))
      await timeGitFetch(clone, npmUrl, previous!.commit)
      return await measured(p, async () => await timeGitFetch(clone, npmUrl, latest!.commit))
    }, { warmup: 1 })
    report(`git fetch --depth 1, ${previous!.version} → ${latest!.version}`, upgrades)
  } finally {
    await proxy?.stop()
    await daemon?.stop()
    await rm(tmp, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
