/**
 * A line merge that keeps apart changes which only touch each other. `git merge-file` calls two
 * edits on adjacent lines a conflict; on accept that is the common case of a job appending below a
 * line the user added and has not committed (base S holds the line, HEAD does not, B appends
 * after it). Here each side's change is taken from `git diff -U0` (no context lines), and hunks
 * conflict only when they overlap in the base, or insert at the same place: a hunk that ends where
 * the other begins is applied in base order. Used only where merge-file has already conflicted.
 */
import { runGit } from './git-process.js'

/** One hunk of a side's change: base lines `[start, end)` (0-based) become `lines`. */
interface Hunk {
  start: number
  end: number
  lines: Buffer[]
  /** 1-based first and last line of the new side, for messages (last < first: a pure removal). */
  newFirst: number
  newLast: number
}

export type SeparatedMerge =
  | { clean: true, content: Buffer }
  /** `hunks` are the theirs side's line ranges that overlap ours, as `12-14` or `12`. */
  | { clean: false, hunks: string[] }

/**
 * Merges the blobs `ours` and `theirs` against `base` (all in the repository at `cwd`), keeping
 * hunks that touch but do not overlap.
 */
export async function mergeKeepingApart (cwd: string, base: { oid: string, body: Buffer }, ours: { oid: string, body: Buffer }, theirs: { oid: string, body: Buffer }, signal?: AbortSignal): Promise<SeparatedMerge> {
  const baseLines = splitLines(base.body)
  const ourHunks = await hunksOf(cwd, base.oid, ours.oid, splitLines(ours.body), signal)
  const theirHunks = await hunksOf(cwd, base.oid, theirs.oid, splitLines(theirs.body), signal)
  const clashes = theirHunks.filter(t => ourHunks.some(o => overlap(o, t) && !sameHunk(o, t)))
  if (clashes.length > 0) return { clean: false, hunks: clashes.map(h => h.newLast > h.newFirst ? `${h.newFirst}-${h.newLast}` : `${h.newFirst}`) }
  // Same hunk on both sides: once. At one start, an insertion goes before a range it touches.
  const hunks = [...ourHunks, ...theirHunks.filter(t => !ourHunks.some(o => sameHunk(o, t)))]
    .sort((a, b) => a.start - b.start || (a.end - a.start) - (b.end - b.start))
  const out: Buffer[] = []
  let at = 0
  for (const hunk of hunks) {
    out.push(...baseLines.slice(at, hunk.start), ...hunk.lines)
    at = hunk.end
  }
  out.push(...baseLines.slice(at))
  return { clean: true, content: Buffer.concat(out) }
}

/** Two hunks collide when their base ranges share a line, or both insert at one place, or one inserts inside the other's range. */
function overlap (a: Hunk, b: Hunk): boolean {
  if (a.start === a.end && b.start === b.end) return a.start === b.start
  if (a.start === a.end) return b.start < a.start && a.start < b.end
  if (b.start === b.end) return a.start < b.start && b.start < a.end
  return Math.max(a.start, b.start) < Math.min(a.end, b.end)
}

function sameHunk (a: Hunk, b: Hunk): boolean {
  return a.start === b.start && a.end === b.end && Buffer.concat(a.lines).equals(Buffer.concat(b.lines))
}

/** Lines with their terminators, so a last line without one stays distinct from one with it. */
function splitLines (body: Buffer): Buffer[] {
  const lines: Buffer[] = []
  let start = 0
  for (let nl = body.indexOf(10); nl >= 0; nl = body.indexOf(10, start)) {
    lines.push(body.subarray(start, nl + 1))
    start = nl + 1
  }
  if (start < body.length) lines.push(body.subarray(start))
  return lines
}

/** The hunks of `from` → `to` by `git diff -U0`; only their coordinates are read, the lines come from `toLines`. */
async function hunksOf (cwd: string, from: string, to: string, toLines: Buffer[], signal?: AbortSignal): Promise<Hunk[]> {
  const { stdout } = await runGit(['diff', '-U0', '--no-color', '--no-ext-diff', '--no-textconv', '--no-renames', from, to], { cwd, signal })
  const hunks: Hunk[] = []
  for (const match of stdout.toString('latin1').matchAll(/^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/gm)) {
    const [oldStart, oldCount, newStart, newCount] = [match[1], match[2] ?? '1', match[3], match[4] ?? '1'].map(Number) as [number, number, number, number]
    // With a count of 0 the start names the line after which the change sits.
    const start = oldCount === 0 ? oldStart : oldStart - 1
    const first = newCount === 0 ? newStart : newStart - 1
    hunks.push({ start, end: start + oldCount, lines: toLines.slice(first, first + newCount), newFirst: first + 1, newLast: first + newCount })
  }
  return hunks
}
