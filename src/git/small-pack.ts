import { MalformedObjectError, UnsafePathError } from './errors.js'
import { encodeDelta } from './delta.js'
import { parsePack, writePack, type PackInput } from './pack-format.js'
import { checkEntryName } from './path-safety.js'
import { parseCommit, parseTree } from './tree.js'
import { SMALL_PACK_BYTES } from './constants.js'
import type { ClosureEntry } from './closure.js'
import type { ObjectReader, ObjectStore } from './object-store.js'
import { writeLooseObject } from './loose-object.js'

/**
 * Builds the pack for a small closure in-process: whole objects, or a delta against the object at
 * the same path in a have (`entry.base`, which the receiver holds) when that is smaller. Returns
 * undefined when the closure is too large for this path (git's pack-objects then makes it).
 */
export async function buildSmallPack (store: ObjectStore, entries: readonly ClosureEntry[]): Promise<Buffer | undefined> {
  // Sizes first: a closure of a few large blobs is not read into memory only to be put aside.
  const infos = await store.infoMany(entries.map(entry => entry.oid))
  let total = 0
  for (const info of infos) {
    if (info === null) return undefined
    total += info.size
    if (total > SMALL_PACK_BYTES) return undefined
  }
  const objects = await store.readMany(entries.map(entry => entry.oid))
  if (objects.some(object => object === null)) return undefined
  const baseIds = entries.flatMap(entry => entry.base !== undefined ? [entry.base] : [])
  const bases = new Map((await store.readMany(baseIds)).flatMap(base => base === null ? [] : [[base.oid, base] as const]))
  const inputs: PackInput[] = entries.map((entry, i) => {
    const object = objects[i]!
    const base = entry.base === undefined ? undefined : bases.get(entry.base)
    if (base !== undefined && base.type === object.type) {
      const delta = encodeDelta(base.body, object.body)
      if (delta.length < object.body.length / 2) return { refDelta: base.oid, delta }
    }
    return { type: object.type, body: object.body }
  })
  return writePack(inputs)
}

/** git's tree order: names compared bytewise, a tree's name as if it ended in '/'. */
function treeSortKey (name: string, kind: string): string {
  return kind === 'tree' ? `${name}/` : name
}

/**
 * Reads a small pack in-process: parses and re-hashes every object, checks trees (entry names
 * by `checkEntryName`, modes, order, no duplicates) and commits, lets `check` see the ids, and
 * only then writes the objects into the repository as loose objects.
 */
export async function receiveSmallPack (store: ObjectStore, pack: Buffer, check: (oids: string[], objects: ObjectReader) => void | Promise<void>): Promise<string[]> {
  const objects = await parsePack(pack, {
    maxObjectBytes: SMALL_PACK_BYTES,
    readBase: async oid => {
      const [base] = await store.readMany([oid])
      return base ?? null
    }
  })
  for (const object of objects) {
    if (object.type === 'tree') {
      const entries = parseTree(object.body)
      let previous: string | undefined
      // Sorted order alone misses a file and a folder of one name ('a' sorts before 'a/', with
      // 'a-b' possibly between): every name is checked against all the others.
      const names = new Set<string>()
      for (const entry of entries) {
        try {
          checkEntryName(entry.name)
        } catch (err) {
          throw new UnsafePathError(entry.name, (err as UnsafePathError).reason, object.oid)
        }
        const key = treeSortKey(entry.name, entry.kind)
        if (names.has(entry.name) || (previous !== undefined && Buffer.compare(Buffer.from(previous, 'latin1'), Buffer.from(key, 'latin1')) >= 0)) {
          throw new MalformedObjectError(`received tree ${object.oid} is not sorted or has duplicate entries`)
        }
        previous = key
        names.add(entry.name)
      }
    } else if (object.type === 'commit') {
      parseCommit(object.body)
    } else if (object.type === 'tag') {
      throw new MalformedObjectError(`received tag ${object.oid}: tags are not part of a closure`)
    }
  }
  const oids = objects.map(object => object.oid)
  // The pack's objects, then the repository's, as a reader: what `check` sees is what will be stored.
  const byId = new Map(objects.map(object => [object.oid, object]))
  const reader: ObjectReader = {
    infoMany: async ids => {
      const local = await store.infoMany(ids.filter(id => !byId.has(id)))
      return ids.map(id => {
        const object = byId.get(id)
        return object !== undefined ? { oid: id, type: object.type, size: object.body.length } : local.shift() ?? null
      })
    },
    readMany: async ids => {
      const local = await store.readMany(ids.filter(id => !byId.has(id)))
      return ids.map(id => byId.get(id) ?? local.shift() ?? null)
    }
  }
  await check(oids, reader)
  const present = await store.presentSet(oids)
  for (const object of objects) {
    if (!present.has(object.oid)) await writeLooseObject(store.paths.objectDir, object.type, object.body)
  }
  return oids
}
