import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { PathEntry } from './change-paths.js'
import { BINARY_SNIFF_BYTES, MERGE_LABELS } from './constants.js'
import { runGit } from './git-process.js'
import { MissingObjectError } from './errors.js'
import type { ObjectStore } from './object-store.js'

const SYMLINK_MODE = '120000'
const GITLINK_MODE = '160000'

/** How one path comes out of a three-way merge of entries (base, ours, theirs). */
export type EntryMerge =
  /** The result is an existing blob: one side's, possibly with the other side's mode. Undefined: absent. */
  | { outcome: 'take', entry: PathEntry | undefined }
  /** Both sides changed a text file: merge-file's result; `conflicts` > 0 means it holds conflict markers. */
  | { outcome: 'merged', mode: string, content: Buffer, conflicts: number }
  /** No result can be made: ours deleted what theirs changed, the reverse, or a merge git cannot do. */
  | { outcome: 'conflict', reason: 'deleted-by-ours' | 'modified-by-ours' | 'unmergeable' | 'submodule' }

export interface MergeContext {
  store: ObjectStore
  /** Where merge-file runs, so the repository's `merge.conflictStyle` applies. */
  cwd: string
  signal?: AbortSignal
}

export function sameEntry (a: PathEntry | undefined, b: PathEntry | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.mode === b.mode && a.oid === b.oid
}

export function isSymlinkMode (mode: string): boolean {
  return mode === SYMLINK_MODE
}

/**
 * Three-way merge of one path at the level of entries, the way git's merge resolves a path:
 * a side that did not change yields to the other, modes merge on their own, and only when both
 * sides changed a regular file's content does `git merge-file` run.
 */
export async function mergeEntries (base: PathEntry | undefined, ours: PathEntry | undefined, theirs: PathEntry | undefined, context: MergeContext): Promise<EntryMerge> {
  if (sameEntry(ours, theirs)) return { outcome: 'take', entry: ours }
  if ([base, ours, theirs].some(entry => entry?.mode === GITLINK_MODE)) return { outcome: 'conflict', reason: 'submodule' }
  if (sameEntry(ours, base)) return { outcome: 'take', entry: theirs }
  if (sameEntry(theirs, base)) return { outcome: 'take', entry: ours }
  if (ours === undefined) return { outcome: 'conflict', reason: 'deleted-by-ours' }
  if (theirs === undefined) return { outcome: 'conflict', reason: 'modified-by-ours' }
  if (isSymlinkMode(ours.mode) !== isSymlinkMode(theirs.mode)) return { outcome: 'conflict', reason: 'unmergeable' }
  const mode = mergeMode(base?.mode, ours.mode, theirs.mode)
  if (ours.oid === theirs.oid || theirs.oid === base?.oid) return { outcome: 'take', entry: { mode, oid: ours.oid } }
  if (ours.oid === base?.oid) return { outcome: 'take', entry: { mode, oid: theirs.oid } }
  if (isSymlinkMode(ours.mode)) return { outcome: 'conflict', reason: 'unmergeable' }
  const bodies = await readBlobs(context.store, [base?.oid, ours.oid, theirs.oid])
  if (bodies.some(isBinary)) return { outcome: 'conflict', reason: 'unmergeable' }
  const [baseBody, oursBody, theirsBody] = bodies as [Buffer, Buffer, Buffer]
  const { content, conflicts } = await mergeText(baseBody, oursBody, theirsBody, context)
  // A mode change is taken only with clean content, so a file with conflict markers keeps ours.
  return { outcome: 'merged', mode: conflicts > 0 ? ours.mode : mode, content, conflicts }
}

/** Bodies of blobs, in order; an undefined id reads as empty (the base of an add/add merge). */
export async function readBlobs (store: ObjectStore, oids: ReadonlyArray<string | undefined>): Promise<Buffer[]> {
  const wanted = oids.filter((oid): oid is string => oid !== undefined)
  const objects = await store.readMany(wanted)
  const bodies = new Map<string, Buffer>()
  for (const [i, object] of objects.entries()) {
    if (object == null) throw new MissingObjectError(wanted[i]!)
    bodies.set(object.oid, object.body)
  }
  return oids.map(oid => oid === undefined ? Buffer.alloc(0) : bodies.get(oid)!)
}

/** git's own test for binary content (a NUL in the first 8000 bytes). */
export function isBinary (body: Uint8Array): boolean {
  return body.subarray(0, BINARY_SNIFF_BYTES).includes(0)
}

/**
 * `git merge-file -p -L working-tree -L snapshot -L job`: standard conflict markers (or the style
 * the repository's `merge.conflictStyle` asks for), and the number of conflicting hunks.
 */
async function mergeText (base: Buffer, ours: Buffer, theirs: Buffer, context: MergeContext): Promise<{ content: Buffer, conflicts: number }> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'gitmesh-merge-'))
  try {
    const files = ['ours', 'base', 'theirs'].map(name => path.join(scratch, name))
    await Promise.all([ours, base, theirs].map(async (body, i) => { await writeFile(files[i]!, body) }))
    // merge-file exits with the number of conflicts (at most 127), or 255 when it fails.
    const { stdout, exitCode } = await runGit(
      ['merge-file', '-p', '-L', MERGE_LABELS.ours, '-L', MERGE_LABELS.base, '-L', MERGE_LABELS.theirs, ...files],
      { cwd: context.cwd, okExitCodes: Array.from({ length: 127 }, (_, i) => i + 1), signal: context.signal }
    )
    return { content: stdout, conflicts: exitCode }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/** A mode changed on one side only is taken; changed on both sides, ours stays. */
function mergeMode (base: string | undefined, ours: string, theirs: string): string {
  return ours === base ? theirs : ours
}
