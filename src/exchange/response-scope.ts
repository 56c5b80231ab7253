import type { ObjectInfo, RawObject } from '../git/cat-file.js'
import { parseCommit, parseTree } from '../git/tree.js'
import { ObjectMismatchError } from './errors.js'

/** Reads objects of a received pack (from its quarantine, with the repository behind it). */
export interface PackObjects {
  infoMany: (oids: readonly string[]) => Promise<Array<ObjectInfo | null>>
  readMany: (oids: readonly string[]) => Promise<Array<RawObject | null>>
}

/**
 * What a response may still carry: the wants, and whatever a commit or tree already received
 * (or already stored, for a resumed fetch) refers to. A server sends commits, then trees from
 * the root down, then blobs, so every object it sends is referred to by the wants or by an
 * object received before it or in the same pack. A pack with an object outside that — blobs
 * nobody asked for, say — is refused before it is stored, unless the object was here already
 * (a server may send objects of the haves' trees, objects.md §8 rule 2).
 */
export class ResponseScope {
  private readonly expected = new Set<string>()

  constructor (wants: Iterable<string>) {
    for (const oid of wants) this.expected.add(oid)
  }

  /** Objects a fetch found referred to by what it already stored (a resumed transfer). */
  widen (oids: Iterable<string>): void {
    for (const oid of oids) this.expected.add(oid)
  }

  /**
   * Checks a received pack's declared ids, reading its commits and trees to learn what they
   * refer to; `present` says which ids the repository held before the pack. Throws
   * ObjectMismatchError when an object is outside the response.
   */
  async admit (declared: readonly string[], objects: PackObjects, present: (oids: readonly string[]) => Promise<Set<string>>): Promise<void> {
    const infos = await objects.infoMany(declared)
    const types = new Map(declared.map((oid, i) => [oid, infos[i]?.type]))
    const pending = new Set(declared)
    const reached = declared.filter(oid => this.expected.has(oid))
    // Level by level: a tree's entries may be in the same pack.
    while (reached.length > 0) {
      const level = reached.splice(0)
      for (const oid of level) {
        pending.delete(oid)
        this.expected.delete(oid)
      }
      const containers = level.filter(oid => types.get(oid) === 'commit' || types.get(oid) === 'tree')
      const bodies = containers.length === 0 ? [] : await objects.readMany(containers)
      for (const object of bodies) {
        if (object === null) continue
        const refs = object.type === 'commit'
          ? [parseCommit(object.body).tree]
          : parseTree(object.body).filter(entry => entry.kind !== 'commit').map(entry => entry.oid)
        for (const ref of refs) {
          if (pending.has(ref) && !this.expected.has(ref)) reached.push(ref)
          this.expected.add(ref)
        }
      }
    }
    if (pending.size === 0) return
    const outside = [...pending]
    const held = await present(outside)
    const foreign = outside.filter(oid => !held.has(oid))
    if (foreign.length > 0) {
      throw new ObjectMismatchError(`the peer sent ${foreign.length} objects outside the closure it was asked for, such as ${foreign[0]}`)
    }
  }
}
