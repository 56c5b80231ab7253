import { MissingObjectError, MalformedObjectError, UnsafePathError } from './errors.js'
import { checkEntryName } from './path-safety.js'
import { parseCommit, parseTree, type TreeEntry } from './tree.js'
import type { RawObject } from './cat-file.js'

export interface ObjectReader {
  readMany: (oids: readonly string[]) => Promise<Array<RawObject | null>>
}

export interface ClosureEntry {
  oid: string
  /** Path of the object in its tree ('' for roots); pack-objects uses it to find delta bases. */
  path: string
  /** An object of the same kind at the same path in a have (the receiver holds it): a delta base. */
  base?: string
}

export interface Closure {
  commits: ClosureEntry[]
  trees: ClosureEntry[]
  blobs: ClosureEntry[]
  /** Have commits that exist here and were used to prune the walk. */
  haves: string[]
  /** Objects the walk needed but could not read (only with `tolerateMissing`). */
  missing: string[]
}

export interface WalkOptions {
  /** Objects the receiver already stored (a resumed transfer): left out, trees still descended. */
  skip?: ReadonlySet<string>
  /** Report unreadable objects in `missing` instead of throwing (a receiver walking its partial copy). */
  tolerateMissing?: boolean
  /** Check every entry name of every tree walked with `checkEntryName` (a receiver checking what it got). */
  checkEntryNames?: boolean
}

interface Pending {
  oid: string
  /** Trees at the same path in the have commits whose ids differ from `oid`. */
  bases: string[]
  path: string
}

/**
 * closure(wants, haves): every object reachable from the want commits' trees that is not
 * reachable from the have commits' trees, plus the want commits themselves (history is shallow:
 * parents are not followed).
 *
 * The walk compares each new tree with the trees at the same path in the haves and descends only
 * where ids differ, so its cost follows the size of the change, not the size of the repository.
 * Reads are pipelined one tree level at a time.
 */
export async function walkClosure (
  reader: ObjectReader,
  wants: readonly string[],
  haves: readonly string[],
  options: WalkOptions = {}
): Promise<Closure> {
  const skip = options.skip ?? new Set<string>()
  const closure: Closure = { commits: [], trees: [], blobs: [], haves: [], missing: [] }
  const seen = new Set<string>()

  const readOrMiss = async (oids: string[]): Promise<Map<string, RawObject>> => {
    const unique = [...new Set(oids)]
    const objects = await reader.readMany(unique)
    const found = new Map<string, RawObject>()
    unique.forEach((oid, i) => {
      const object = objects[i]
      if (object != null) found.set(oid, object)
    })
    return found
  }

  const haveObjects = await readOrMiss([...haves])
  const haveTrees: string[] = []
  for (const oid of haves) {
    const object = haveObjects.get(oid)
    if (object?.type !== 'commit') continue
    closure.haves.push(oid)
    haveTrees.push(parseCommit(object.body).tree)
  }
  const haveCommitSet = new Set(closure.haves)
  const haveTreeSet = new Set(haveTrees)

  const wantObjects = await readOrMiss(wants.filter(oid => !haveCommitSet.has(oid)))
  let level: Pending[] = []
  for (const oid of wants) {
    if (haveCommitSet.has(oid) || seen.has(oid)) continue
    seen.add(oid)
    const object = wantObjects.get(oid)
    if (object === undefined) {
      if (options.tolerateMissing === true) { closure.missing.push(oid); continue }
      throw new MissingObjectError(oid)
    }
    if (object.type !== 'commit') throw new MalformedObjectError(`${oid} is a ${object.type}, not a commit`)
    if (!skip.has(oid)) closure.commits.push({ oid, path: '' })
    const { tree } = parseCommit(object.body)
    if (!haveTreeSet.has(tree)) level.push({ oid: tree, bases: haveTrees.filter(t => t !== tree), path: '' })
  }

  while (level.length > 0) {
    const objects = await readOrMiss(level.flatMap(item => [item.oid, ...item.bases]))
    const next: Pending[] = []
    for (const item of level) {
      if (seen.has(item.oid)) continue
      seen.add(item.oid)
      const object = objects.get(item.oid)
      if (object === undefined) {
        if (options.tolerateMissing === true) { closure.missing.push(item.oid); continue }
        throw new MissingObjectError(item.oid)
      }
      if (object.type !== 'tree') throw new MalformedObjectError(`${item.oid} is a ${object.type}, not a tree`)
      if (!skip.has(item.oid)) closure.trees.push({ oid: item.oid, path: item.path, ...(item.bases[0] !== undefined ? { base: item.bases[0] } : {}) })
      const baseEntries = item.bases.map(base => entriesByName(objects.get(base)))
      // Any id in a base tree is held by the receiver, whatever its name: a rename costs nothing.
      const baseOids = new Set(baseEntries.flatMap(base => [...base.values()].map(entry => entry.oid)))
      for (const entry of parseTree(object.body)) {
        if (options.checkEntryNames === true) checkNameInTree(entry.name, item.oid)
        if (entry.kind === 'commit') continue // a submodule's commit lives in another repository
        if (baseOids.has(entry.oid)) continue
        const path = item.path === '' ? entry.name : `${item.path}/${entry.name}`
        if (entry.kind === 'tree') {
          const bases = baseEntries.flatMap(base => {
            const same = base.get(entry.name)
            return same?.kind === 'tree' ? [same.oid] : []
          })
          next.push({ oid: entry.oid, bases, path })
        } else if (!seen.has(entry.oid)) {
          seen.add(entry.oid)
          const base = baseEntries.map(b => b.get(entry.name)).find(same => same?.kind === 'blob')?.oid
          if (!skip.has(entry.oid)) closure.blobs.push({ oid: entry.oid, path, ...(base !== undefined ? { base } : {}) })
        }
      }
    }
    level = next
  }
  return closure
}

function checkNameInTree (name: string, tree: string): void {
  try {
    checkEntryName(name)
  } catch (err) {
    throw new UnsafePathError(name, (err as UnsafePathError).reason, tree)
  }
}

function entriesByName (object: RawObject | undefined): Map<string, TreeEntry> {
  const map = new Map<string, TreeEntry>()
  if (object?.type !== 'tree') return map
  for (const entry of parseTree(object.body)) map.set(entry.name, entry)
  return map
}
