import '../polyfill.js'
import { execFileSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { snapshotWorkingTree } from '../git/snapshot.js'
import { ObjectStore } from '../git/object-store.js'
import { formatMs, median } from './stats.js'

/**
 * `node dist/bench/object-layer.js`: the in-process object layer's single operations, timed one
 * call at a time: a snapshot (one file edited before each, so each writes a new commit) and the
 * ancestry check of the grant path, on loose and on packed history. Written to compare the same
 * calls across a change of implementation; it uses only `snapshotWorkingTree` and
 * `ObjectStore.isAncestor`, which every version has.
 */

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '200' },
    commits: { type: 'string', default: '300' },
    files: { type: 'string', default: '2000' }
  }
})
const iterations = Number(args.iterations)

function git (cwd: string, gitArgs: string[], input?: string): string {
  return execFileSync('git', gitArgs, { cwd, input, maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: 'C' } }).toString('utf8').trim()
}

/** Seeded text, so every run builds the same repository (and the same pack). */
function text (seed: number, bytes: number): string {
  let x = seed * 2654435761 % 4294967296 || 1
  let out = ''
  while (out.length < bytes) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    out += x.toString(36) + (x % 7 === 0 ? '\n' : ' ')
  }
  return out
}

/**
 * `commits` commits on main, each changing one of `files` files of about 2 KiB, and one commit on
 * a side branch off the middle (an existing commit that is not an ancestor of main), by fast-import.
 */
function makeHistory (dir: string, files: number, commits: number): { head: string, root: string, parent: string, side: string } {
  git(dir, ['init', '-q', '-b', 'main'])
  const lines: string[] = []
  const data = (s: string): void => { lines.push(`data ${Buffer.byteLength(s)}`, s) }
  for (let c = 1; c <= commits; c++) {
    lines.push('commit refs/heads/main', `mark :${c}`, `committer bench <bench@gitmesh.invalid> ${1_700_000_000 + c} +0000`)
    data(`c${c}\n`)
    if (c > 1) lines.push(`from :${c - 1}`)
    if (c === 1) {
      for (let f = 0; f < files; f++) { lines.push(`M 100644 inline d${f % 40}/f${f}.txt`); data(text(f + 1, 2048)) }
    } else {
      lines.push(`M 100644 inline d0/f${c % files}.txt`); data(text(c * 7919, 2048))
    }
  }
  lines.push('commit refs/heads/side', `committer bench <bench@gitmesh.invalid> ${1_800_000_000} +0000`)
  data('side\n')
  lines.push(`from :${Math.floor(commits / 2)}`, 'M 100644 inline side.txt')
  data('side\n')
  git(dir, ['fast-import', '--quiet'], lines.join('\n') + '\n')
  git(dir, ['checkout', '-q', '-f', 'main'])
  return { head: git(dir, ['rev-parse', 'main']), root: git(dir, ['rev-list', '--max-parents=0', 'main']), parent: git(dir, ['rev-parse', 'main~1']), side: git(dir, ['rev-parse', 'side']) }
}

/** Turns every packed object into a loose one (fast-import writes a pack). */
function unpack (dir: string): void {
  const packDir = path.join(dir, '.git', 'objects', 'pack')
  const aside = mkdtempSync(path.join(tmpdir(), 'gitmesh-packs-'))
  for (const name of readdirSync(packDir)) renameSync(path.join(packDir, name), path.join(aside, name))
  for (const name of readdirSync(aside).filter(n => n.endsWith('.pack'))) {
    execFileSync('git', ['unpack-objects', '-q'], { cwd: dir, input: readFileSync(path.join(aside, name)) })
  }
  rmSync(aside, { recursive: true, force: true })
}

async function timeEach (fn: (i: number) => Promise<unknown>): Promise<{ median: number, total: number }> {
  const samples: number[] = []
  const start = performance.now()
  for (let i = 0; i < iterations; i++) {
    const t = performance.now()
    await fn(i)
    samples.push(performance.now() - t)
  }
  return { median: median(samples), total: performance.now() - start }
}

function report (label: string, figure: { median: number, total: number }): void {
  console.log(`  ${label.padEnd(44)} median ${formatMs(figure.median).padStart(9)}   ${iterations} calls ${formatMs(figure.total).padStart(9)}   rss ${Math.round(process.memoryUsage().rss / 1048576)} MB`)
}

async function ancestry (store: ObjectStore, c: ReturnType<typeof makeHistory>, kind: string): Promise<void> {
  const expect = async (ancestor: string, descendant: string, answer: boolean): Promise<void> => {
    if (await store.isAncestor(ancestor, descendant) !== answer) throw new Error(`isAncestor(${ancestor}, ${descendant}) is not ${answer}`)
  }
  report(`isAncestor, parent of head (${kind})`, await timeEach(async () => { await expect(c.parent, c.head, true) }))
  report(`isAncestor, root of head (${kind})`, await timeEach(async () => { await expect(c.root, c.head, true) }))
  report(`isAncestor, side commit, not one (${kind})`, await timeEach(async () => { await expect(c.side, c.head, false) }))
  report(`isAncestor, missing object (${kind})`, await timeEach(async () => { await expect('e'.repeat(40), c.head, false) }))
}

const dir = mkdtempSync(path.join(tmpdir(), 'gitmesh-object-layer-'))
try {
  const commits = makeHistory(dir, Number(args.files), Number(args.commits))
  console.log(`object layer: ${args.files} files, ${args.commits} commits, ${iterations} calls each (median per call, then all calls)`)
  unpack(dir)
  const store = await ObjectStore.open(dir)
  await ancestry(store, commits, 'loose')
  git(dir, ['repack', '-a', '-d', '-q'])
  git(dir, ['prune-packed'])
  await ancestry(store, commits, 'packed')
  report('snapshotWorkingTree, one file edited', await timeEach(async i => {
    appendFileSync(path.join(dir, 'd0', 'f0.txt'), `edit ${i}\n`)
    await snapshotWorkingTree(dir)
  }))
  store.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
