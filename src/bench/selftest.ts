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
import { benchGitEnv, changeOneFile, makeNpmPackageRepo, makeSyntheticRepo, type SyntheticRepo } from './corpora.js'
import { startCountingProxy, type ByteCounts, type CountingProxy } from './counting-proxy.js'
import { allowFetchByCommitId, gitUrl, startGitDaemon, timeGitCloneDepth1, timeGitFetch, timeSnapshotBaseline, type GitDaemon, type GitTransferOptions } from './git-baseline.js'
import { startGitDaemonNoDelay } from './git-daemon-nodelay.js'
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
  console.log(`${label.padEnd(52)} median ${formatMs(ms.median).padStart(9)}  (min ${formatMs(ms.min)}, p90 ${formatMs(ms.p90)}, n=${ms.n})` +
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

/** Cold clone and one-file-change fetch of the synthetic corpus, several runs each. */
async function syntheticTransfers (label: string, synthetic: SyntheticRepo, work: string, url: string, proxy: CountingProxy, options: GitTransferOptions): Promise<void> {
  const clones = await runs(RUNS, async (i) => await measured(proxy, async () =>
    await timeGitCloneDepth1(url, path.join(work, `cold-${i}`), options)), { warmup: 1 })
  report(`${label}: git clone --depth 1 (${synthetic.files.length} files)`, clones)
  const fetches = await runs(RUNS, async (i) => {
    const clone = path.join(work, `warm-${i}`)
    await timeGitCloneDepth1(url, clone, options)
    // A different file each run, spread over the tree, so no run benefits from the previous one.
    const next = await changeOneFile(synthetic.dir, synthetic.files[(i * 997 + label.length) % synthetic.files.length]!)
    return await measured(proxy, async () => await timeGitFetch(clone, url, next, options))
  }, { warmup: 1 })
  report(`${label}: git fetch --depth 1, one-file change`, fetches)
}

async function main (): Promise<void> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'gitmesh-bench-selftest-'))
  const served = path.join(tmp, 'served')
  let daemon: GitDaemon | undefined
  let proxy: CountingProxy | undefined
  let noDelayDaemon: GitDaemon | undefined
  let noDelayProxy: CountingProxy | undefined
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
    await syntheticTransfers('stock', synthetic, path.join(tmp, 'stock'), url, p, {})

    // The same transfers without the ~40 ms TCP stalls of stock git daemon and protocol v2.
    noDelayDaemon = await startGitDaemonNoDelay(served)
    noDelayProxy = await startCountingProxy('127.0.0.1', noDelayDaemon.port)
    await syntheticTransfers('no-delay v0', synthetic, path.join(tmp, 'nodelay'), gitUrl(noDelayProxy.port, 'synthetic'), noDelayProxy, { protocolVersion: 0 })

    const head = await gitText(['rev-parse', 'HEAD^{tree}'], { cwd: synthetic.dir, env: benchGitEnv() })
    for (const fromRealIndex of [false, true]) {
      const snapshots = await runs(RUNS, async () => await timeSnapshotBaseline(synthetic.dir, { fromRealIndex }), { warmup: 1 })
      if (snapshots.some((s) => s.tree !== head)) throw new Error('snapshot baseline tree differs from HEAD^{tree} in a clean repository')
      report(`snapshot: git add -A + write-tree (${fromRealIndex ? 'copied index' : 'empty index'})`, snapshots.map((s) => ({ ms: s.ms, bytes: { up: 0, down: 0, total: 0 } })))
    }

    const npmBuilt = await timed(async () => await makeNpmPackageRepo(path.join(served, 'npm'), CACHE_DIR))
    const npm = npmBuilt.value
    await allowFetchByCommitId(npm.dir)
    console.log(`npm corpus: ${npm.commits.length} commits (${npm.commits.map((c) => `${c.version}: ${c.files} files`).join(', ')}), built in ${formatMs(npmBuilt.ms)}`)
    const npmUrl = gitUrl(p.port, 'npm')
    const npmClones = await runs(RUNS, async (i) => await measured(p, async () =>
      await timeGitCloneDepth1(npmUrl, path.join(tmp, `npm-cold-${i}`))), { warmup: 1 })
    report(`npm: git clone --depth 1 (${npm.commits.at(-1)!.files} files)`, npmClones)
    const [previous, latest] = npm.commits.slice(-2)
    const upgrades = await runs(RUNS, async (i) => {
      const clone = await emptyRepo(path.join(tmp, `npm-warm-${i}`))
      await timeGitFetch(clone, npmUrl, previous!.commit)
      return await measured(p, async () => await timeGitFetch(clone, npmUrl, latest!.commit))
    }, { warmup: 1 })
    report(`npm: git fetch --depth 1, ${previous!.version} → ${latest!.version}`, upgrades)
  } finally {
    await noDelayProxy?.stop()
    await noDelayDaemon?.stop()
    await proxy?.stop()
    await daemon?.stop()
    await rm(tmp, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
