import type { Stream } from '@libp2p/interface'
import { MessageChannel } from '../wire/channel.js'
import type { ObjectReader, ObjectStore } from '../git/object-store.js'
import { ResponseScope } from './response-scope.js'
import type { PeerBudget } from '../wire/budget.js'
import { bytesToOid, oidToBytes } from '../git/oid.js'
import { FetcherInbound, type FetcherMessage, type Want } from './messages.js'
import { MAX_HAVES, MAX_RESPONSE_OBJECTS, MAX_SKIP } from './constants.js'
import { MAX_OBJECT_BYTES, SMALL_PACK_BYTES, SMALL_PACK_OBJECTS } from '../git/constants.js'
import { receiveSmallPack } from '../git/small-pack.js'
import { guardPack } from '../git/pack-guard.js'
import { ObjectTooLargeError } from '../git/errors.js'
import { ObjectMismatchError, ProtocolError, RefusedError } from './errors.js'

export interface FetchProgress {
  objects: number
  totalObjects: number
  bytes: number
}

export interface FetchOptions {
  /** Commits the fetcher holds for this history; by default its gitmesh refs and HEAD. */
  haves?: string[]
  signal?: AbortSignal
  onProgress?: (progress: FetchProgress) => void
}

export interface AttemptOptions extends FetchOptions {
  /** What the response may carry, kept across the attempts of one fetch. @default the wants alone */
  scope?: ResponseScope
  /** The server's share of the node's buffer budget. */
  budget?: PeerBudget
}

export interface AttemptReport {
  /** Objects received and stored in this attempt. */
  objects: number
  /** Frame bytes sent and received on the stream. */
  bytes: number
  /** Request/response exchanges: one per attempt that went to the network, none when nothing was missing. */
  roundTrips: number
}

/**
 * Chooses the haves for a fetch: the newest commits under refs/gitmesh/ (complete by
 * construction, since a ref is only set after its fetch finished) and HEAD.
 */
export async function defaultHaves (store: ObjectStore): Promise<string[]> {
  const refs = await store.gitmeshCommits(MAX_HAVES - 1)
  const head = await store.headCommit()
  return [...new Set(head === undefined ? refs : [head, ...refs])].slice(0, MAX_HAVES)
}

/**
 * What of closure(wants, haves) is already here, from an interrupted transfer: walked locally,
 * so a resumed request asks the server to leave it out. Also says whether anything is missing.
 */
export async function storedPartOfClosure (store: ObjectStore, wants: string[], haves: string[]): Promise<{ stored: string[], complete: boolean, referenced: string[] }> {
  // The walk also re-checks the entry names of every new tree: index-pack's fsck already refused
  // unsafe ones, and this keeps the rule of checkEntryName even if git's checks change.
  const closure = await store.walkClosure(wants, haves, { tolerateMissing: true, checkEntryNames: true })
  const blobs = closure.blobs.map(entry => entry.oid)
  const presentBlobs = await store.presentSet(blobs)
  const stored = [...closure.commits, ...closure.trees].map(entry => entry.oid).concat(blobs.filter(oid => presentBlobs.has(oid)))
  const referenced = [...closure.commits, ...closure.trees, ...closure.blobs].map(entry => entry.oid).concat(closure.missing)
  return { stored, complete: closure.missing.length === 0 && presentBlobs.size === blobs.length, referenced }
}

/**
 * One request/response exchange on a fresh stream: send wants, haves and what is already
 * stored; receive packs, each verified and stored as it completes.
 */
export async function fetchAttempt (stream: Stream, store: ObjectStore, wants: string[], haves: string[], skip: string[], report: AttemptReport, options: AttemptOptions = {}): Promise<void> {
  report.roundTrips++
  const scope = options.scope ?? new ResponseScope(wants)
  const baseBytes = report.bytes
  const channel = new MessageChannel<FetcherMessage, Want>(stream, FetcherInbound, { budget: options.budget })
  await channel.send({
    type: 'want',
    wants: wants.map(oidToBytes),
    haves: haves.map(oidToBytes),
    skip: skip.slice(0, MAX_SKIP).map(oidToBytes)
  }, options)

  const first = await channel.receive(options)
  if (first === null) throw new ProtocolError('the peer closed the stream without answering')
  if (first.type === 'refuse') throw new RefusedError(first.code, first.message)
  if (first.type !== 'accept') throw new ProtocolError(`expected accept, got ${first.type}`)
  const totalObjects = first.objects
  // A server cannot make us store without end: what it announces is capped, and it must keep to it.
  if (totalObjects > MAX_RESPONSE_OBJECTS) throw new ProtocolError(`the peer announced ${totalObjects} objects, more than the ${MAX_RESPONSE_OBJECTS} a response may hold`)
  if (first.packs > totalObjects) throw new ProtocolError(`the peer announced ${first.packs} packs for ${totalObjects} objects`)
  let received = 0
  let packs = 0
  let next = await channel.receive(options)
  while (next?.type === 'pack') {
    const declared = next.objects.map(bytesToOid)
    if (packs + 1 > first.packs) throw new ProtocolError(`the peer announced ${first.packs} packs and sends more`)
    if (received + declared.length > totalObjects) throw new ProtocolError(`the peer announced ${totalObjects} objects and sends more`)
    let pending: FetcherMessage | null = null
    let finished = false
    const buffered: Uint8Array[] = []
    const readData = async (): Promise<Uint8Array | undefined> => {
      const message = await channel.receive(options)
      if (message?.type === 'data') return message.bytes
      pending = message
      finished = true
      return undefined
    }
    async function * packData (): AsyncGenerator<Uint8Array> {
      yield * buffered
      while (!finished) {
        const bytes = await readData()
        if (bytes === undefined) return
        yield bytes
      }
    }
    const check = async (indexed: string[], objects: ObjectReader): Promise<void> => {
      const indexedSet = new Set(indexed)
      const absent = declared.filter(oid => !indexedSet.has(oid))
      if (absent.length > 0) {
        throw new ObjectMismatchError(`the peer sent objects whose bytes do not match their ids: ${absent.slice(0, 3).join(', ')}${absent.length > 3 ? ` and ${absent.length - 3} more` : ''}`)
      }
      const declaredSet = new Set(declared)
      // index-pack --fix-thin appends the local delta bases; anything else is unasked for.
      const extra = indexed.filter(oid => !declaredSet.has(oid))
      const local = await store.presentSet(extra)
      const foreign = extra.filter(oid => !local.has(oid))
      if (foreign.length > 0) throw new ObjectMismatchError(`the peer sent ${foreign.length} undeclared objects, such as ${foreign[0]}`)
      // Every declared object must belong to what was asked for (or be here already).
      await scope.admit(declared, objects, async oids => await store.presentSet(oids))
    }
    // A pack of a few objects is read in-process; anything larger, or that turns out larger,
    // streams through git's index-pack.
    let small = declared.length <= SMALL_PACK_OBJECTS
    let bufferedBytes = 0
    while (small && !finished) {
      const bytes = await readData()
      if (bytes === undefined) break
      buffered.push(bytes)
      bufferedBytes += bytes.byteLength
      if (bufferedBytes > SMALL_PACK_BYTES) small = false
    }
    // Every entry's size (and every delta's result size) is checked before index-pack sees it.
    const guard = { maxObjectBytes: MAX_OBJECT_BYTES, onCount: (count: number) => { if (count !== declared.length) throw new ObjectMismatchError(`the pack holds ${count} objects, its pack message declared ${declared.length}`) } }
    if (small) {
      const pack = Buffer.concat(buffered)
      try {
        await receiveSmallPack(store, pack, check)
      } catch (err) {
        // An object too large to hold in memory here (a well-compressed file) may still be fine for index-pack.
        if (!(err instanceof ObjectTooLargeError) || err.bytes > MAX_OBJECT_BYTES) throw err
        await store.receivePack(guardPack(oneChunk(pack), guard), check, options.signal)
      }
    } else {
      await store.receivePack(guardPack(packData(), guard), check, options.signal)
    }
    received += declared.length
    packs++
    report.objects += declared.length
    report.bytes = baseBytes + channel.bytesRead + channel.bytesWritten
    options.onProgress?.({ objects: received, totalObjects, bytes: channel.bytesRead + channel.bytesWritten })
    next = pending
  }
  if (next === null) throw new ProtocolError(`transfer ended after ${received} of ${totalObjects} objects`)
  if (next.type !== 'done') throw new ProtocolError(`unexpected ${next.type} message`)
  if (packs !== first.packs) throw new ProtocolError(`the peer announced ${first.packs} packs but sent ${packs}`)
  if (received !== totalObjects) throw new ProtocolError(`the peer announced ${totalObjects} objects but sent ${received}`)
  report.bytes = baseBytes + channel.bytesRead + channel.bytesWritten
  channel.dispose()
  await stream.close(options).catch(() => { /* the response is complete; a failed close loses nothing */ })
}

async function * oneChunk (bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes
}
