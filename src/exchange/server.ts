import type { Logger } from '@libp2p/interface'
import type { MessageChannel } from '../wire/channel.js'
import type { Grant } from '../store/grant-store.js'
import type { ObjectStore } from '../git/object-store.js'
import type { ClosureEntry } from '../git/closure.js'
import type { PackStream } from '../git/pack.js'
import { bytesToOid, oidToBytes } from '../git/oid.js'
import { MissingObjectError } from '../git/errors.js'
import { COLD_DELTA_WINDOW, DATA_FRAME_BYTES, MAX_PREFERRED_BASES, MAX_STATUS_MESSAGE_CHARS, OBJECTS_PER_PACK } from './constants.js'
import { NotGrantedError } from './errors.js'
import { SMALL_PACK_OBJECTS } from '../git/constants.js'
import { buildSmallPack } from '../git/small-pack.js'
import { authorizeWants } from './authorize.js'
import type { FetcherMessage, RefusalCode, Want } from './messages.js'

export interface ServeContext {
  /** Unexpired grants of the requesting peer. */
  grants: Grant[]
  openStore: (repo: string) => Promise<ObjectStore>
  log: Logger
  signal: AbortSignal
  /** @default OBJECTS_PER_PACK */
  objectsPerPack?: number
}

export interface ServeReport {
  objects: number
  packs: number
}

/**
 * Answers one want request: authorize, walk closure(wants, haves) minus what the fetcher already
 * stored, and stream it as a sequence of packs (trees before blobs, so a cut transfer leaves the
 * fetcher able to see what it still lacks).
 */
export async function serveWant (channel: MessageChannel<Want, FetcherMessage>, want: Want, context: ServeContext): Promise<ServeReport> {
  const wants = want.wants.map(bytesToOid)
  const haves = want.haves.map(bytesToOid)
  const skip = new Set(want.skip.map(bytesToOid))
  const refuse = async (code: RefusalCode, message: string): Promise<ServeReport> => {
    await channel.send({ type: 'refuse', code, message: message.slice(0, MAX_STATUS_MESSAGE_CHARS) }, context)
    return { objects: 0, packs: 0 }
  }

  let authorized
  try {
    authorized = await authorizeWants(context.grants, wants, haves, context.openStore)
  } catch (err) {
    if (err instanceof NotGrantedError) return await refuse('not-granted', err.message)
    throw err
  }
  const store = await context.openStore(authorized.repo)
  let entries: ClosureEntry[]
  try {
    const closure = await store.walkClosure(wants, authorized.haves, { skip })
    entries = [...closure.commits, ...closure.trees, ...closure.blobs]
  } catch (err) {
    if (err instanceof MissingObjectError) return await refuse('not-found', 'the granted objects are no longer available here')
    throw err
  }

  const bases = authorized.haves.slice(0, MAX_PREFERRED_BASES)
  // A few objects: the pack is made here, with deltas against the haves' objects at the same
  // paths; starting pack-objects would cost more than the work.
  if (entries.length > 0 && entries.length <= Math.min(SMALL_PACK_OBJECTS, context.objectsPerPack ?? OBJECTS_PER_PACK)) {
    const pack = await buildSmallPack(store, entries)
    if (pack !== undefined) {
      await channel.send({ type: 'accept', objects: entries.length, packs: 1 }, context)
      await channel.send({ type: 'pack', objects: entries.map(entry => oidToBytes(entry.oid)) }, context)
      for (let offset = 0; offset < pack.length; offset += DATA_FRAME_BYTES) {
        await channel.send({ type: 'data', bytes: pack.subarray(offset, offset + DATA_FRAME_BYTES) }, context)
      }
      await channel.send({ type: 'done' }, context)
      context.log('served %d objects in one pack made in-process', entries.length)
      return { objects: entries.length, packs: 1 }
    }
  }
  const perPack = context.objectsPerPack ?? OBJECTS_PER_PACK
  const packs: ClosureEntry[][] = []
  for (let i = 0; i < entries.length; i += perPack) packs.push(entries.slice(i, i + perPack))
  await channel.send({ type: 'accept', objects: entries.length, packs: packs.length }, context)
  const deltaWindow = bases.length === 0 ? COLD_DELTA_WINDOW : undefined
  // The next pack is prepared while the current one is sent: pack-objects does its delta
  // search before it writes a byte, and that time overlaps the transfer.
  const stop = new AbortController()
  const signal = AbortSignal.any([context.signal, stop.signal])
  const start = (pack: ClosureEntry[] | undefined): PackStream | undefined => pack === undefined ? undefined : store.packObjects(pack, bases, { deltaWindow, signal })
  try {
    let next = start(packs[0])
    for (let i = 0; i < packs.length; i++) {
      const current = next!
      next = start(packs[i + 1])
      await channel.send({ type: 'pack', objects: packs[i]!.map(entry => oidToBytes(entry.oid)) }, context)
      for await (const chunk of current.stream as AsyncIterable<Buffer>) {
        for (let offset = 0; offset < chunk.length; offset += DATA_FRAME_BYTES) {
          await channel.send({ type: 'data', bytes: chunk.subarray(offset, offset + DATA_FRAME_BYTES) }, context)
        }
      }
      await current.done
    }
  } finally {
    stop.abort()
  }
  await channel.send({ type: 'done' }, context)
  context.log('served %d objects in %d packs', entries.length, packs.length)
  return { objects: entries.length, packs: packs.length }
}
