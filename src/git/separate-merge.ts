/**
 * A line merge that keeps apart changes which only touch each other. `git merge-file` calls two
 * edits on adjacent lines a conflict; on accept that is the common case of a job appending below a
 * line the user added and has not committed (base S holds the line, HEAD does not, B appends
 * after it). Here each side's change is taken from `git diff --no-index -U0` (no context lines), and hunks
 * conflict only when they overlap in the base, or insert at the same place: a hunk that ends where
 * the other begins is applied in base order. Used only where merge-file has already conflicted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
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
 * Merges `ours` and `theirs` against `base`, keeping hunks that touch but do not overlap. A last
 * line without a newline is compared as if it had one (else a line appended below it would
 * rewrite it), and whether the result ends in a newline is merged on its own, three-way.
 */
export async function mergeKeepingApart (cwd: string, base: Buffer, ours: Buffer, theirs: Buffer, signal?: AbortSignal): Promise<SeparatedMerge> {
  const [baseBody, oursBody, theirsBody] = [base, ours, theirs].map(withFinalNewline) as [Buffer, Buffer, Buffer]
  const baseLines = splitLines(baseBody)
  const scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-apart-'))
  let ourHunks: Hunk[]
  let theirHunks: Hunk[]
  try {
    const files = ['base', 'ours', 'theirs'].map(name => path.join(scratch, name)) as [string, string, string]
    await Promise.all([baseBody, oursBody, theirsBody].map(async (body, i) => { await writeFile(files[i]!, body) }))
    ourHunks = await hunksOf(cwd, files[0], files[1], splitLines(oursBody), signal)
    theirHunks = await hunksOf(cwd, files[0], files[2], splitLines(theirsBody), signal)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
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
  const content = Buffer.concat(out)
  const finalNewline = endsInNewline(ours) === endsInNewline(base) ? endsInNewline(theirs) : endsInNewline(ours)
  return { clean: true, content: finalNewline || content.length === 0 ? content : content.subarray(0, content.length - 1) }
}

function endsInNewline (body: Buffer): boolean {
  return body.length === 0 || body[body.length - 1] === 10
}

function withFinalNewline (body: Buffer): Buffer {
  return endsInNewline(body) ? body : Buffer.concat([body, Buffer.from('\n')])
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

/** The hunks of file `from` → file `to` by `git diff --no-index -U0`; only their coordinates are read, the lines come from `toLines`. */
async function hunksOf (cwd: string, from: string, to: string, toLines: Buffer[], signal?: AbortSignal): Promise<Hunk[]> {
  // Exit 1: the files differ.
  const { stdout } = await runGit(['diff', '--no-index', '-U0', '--no-color', '--no-ext-diff', '--no-textconv', '--', from, to], { cwd, signal, okExitCodes: [1] })
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
