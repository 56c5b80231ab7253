import path from 'node:path'
import type { ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import { MessageChannel } from '../wire/channel.js'
import { BufferBudgetError, InvalidMessageError, FrameTooLargeError, isMalformed } from '../wire/errors.js'
import type { BufferBudget } from '../wire/budget.js'
import { Deadline, withDeadline } from '../wire/deadline.js'
import { ObjectStore } from '../git/object-store.js'
import { DiskFullError, MalformedObjectError, ObjectTooLargeError, UnsafePathError } from '../git/errors.js'
import { asDiskFull } from '../git/disk-full.js'
import type { GrantStore } from '../store/grant-store.js'
import type { TrustStore } from '../store/trust-store.js'
import { FETCH_ATTEMPTS, FETCH_TIMEOUT_MS, MAX_OPEN_STORES, STORE_CLOSE_DELAY_MS, MAX_INBOUND_STREAMS, MAX_OUTBOUND_STREAMS, OBJECTS_PROTOCOL, REQUEST_TIMEOUT_MS, REPLY_TIMEOUT_MS, MAX_STATUS_MESSAGE_CHARS } from './constants.js'
import { ObjectMismatchError, PeerUnreachableError, ProtocolError, RefusedError } from './errors.js'
import { ServerInbound, type FetcherMessage, type Want } from './messages.js'
import { serveWant } from './server.js'
import { ResponseScope } from './response-scope.js'
import { defaultHaves, fetchAttempt, storedPartOfClosure, type AttemptReport, type FetchOptions } from './fetcher.js'

export interface ExchangeComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

export interface ExchangeInit {
  grants: GrantStore
  trust: TrustStore
  /** @default MAX_INBOUND_STREAMS */
  maxInboundStreams?: number
  /** @default MAX_OUTBOUND_STREAMS */
  maxOutboundStreams?: number
  /** @default FETCH_ATTEMPTS */
  fetchAttempts?: number
  /** @default OBJECTS_PER_PACK */
  objectsPerPack?: number
  /** Time for a request to arrive on a new stream (tests shorten it). @default REQUEST_TIMEOUT_MS */
  requestTimeoutMs?: number
  /** The node's budget of bytes buffered by frame readers, per peer and in all; none: unbounded across streams. */
  budget?: BufferBudget
}

export interface FetchReport {
  objects: number
  bytes: number
  roundTrips: number
  ms: number
  /** The ref now pointing at each want. */
  refs: string[]
  /** Wants recorded as shallow because their parents were not fetched. */
  shallow: string[]
}

/** Errors that say the data or the request is wrong: retrying would get the same answer. */
function isFinal (err: unknown): boolean {
  return err instanceof RefusedError || err instanceof PeerUnreachableError || err instanceof ObjectMismatchError || err instanceof UnsafePathError ||
    err instanceof InvalidMessageError || err instanceof FrameTooLargeError || err instanceof MalformedObjectError || err instanceof ObjectTooLargeError || err instanceof DiskFullError
}

/**
 * /gitmesh/objects/1.0.0: serves the objects granted to a peer, and fetches closure(wants, haves)
 * from a peer in one round trip, resuming a cut transfer where it stopped.
 */
export class Exchange implements Startable {
  private readonly log: Logger
  private readonly stores = new Map<string, Promise<ObjectStore>>()
  private readonly fetches = new Map<string, Promise<FetchReport>>()
  private started = false

  constructor (private readonly components: ExchangeComponents, private readonly init: ExchangeInit) {
    this.log = components.logger.forComponent('gitmesh:exchange')
    this.handleStream = this.handleStream.bind(this)
  }

  readonly [Symbol.toStringTag] = 'gitmesh:exchange'

  async start (): Promise<void> {
    if (this.started) return
    await this.components.registrar.handle(OBJECTS_PROTOCOL, this.handleStream, {
      maxInboundStreams: this.init.maxInboundStreams ?? MAX_INBOUND_STREAMS,
      maxOutboundStreams: this.init.maxOutboundStreams ?? MAX_OUTBOUND_STREAMS
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    await this.components.registrar.unhandle(OBJECTS_PROTOCOL)
    for (const store of this.stores.values()) (await store.catch(() => undefined))?.close()
    this.stores.clear()
    this.started = false
  }

  /**
   * One long-lived object store per repository, so its cat-file processes are reused;
   * `create` makes an empty repository there if there is none (a fetch target).
   */
  async openStore (repo: string, create = false): Promise<ObjectStore> {
    repo = path.resolve(repo)
    const cached = this.stores.get(repo)
    if (cached !== undefined) {
      const store = await cached.catch(() => undefined)
      // A repository deleted (or replaced) since it was opened is opened anew.
      if (store !== undefined && await store.stillThere()) {
        // Most recently used last, so the oldest is evicted first.
        this.stores.delete(repo)
        this.stores.set(repo, cached)
        return store
      }
      if (this.stores.get(repo) === cached) this.stores.delete(repo)
      store?.close()
    }
    const opening = (create ? ObjectStore.openOrInit(repo) : ObjectStore.open(repo)).then(async store => {
      // What a killed daemon left half-received goes at once, not at the next fetch.
      const removed = await store.removeStaleQuarantines().catch((err: unknown) => { this.log.error('could not clean the quarantines of %s - %e', repo, err); return [] })
      if (removed.length > 0) this.log('removed %d quarantine folders a stopped process left in %s', removed.length, repo)
      return store
    })
    this.stores.set(repo, opening)
    opening.catch(() => { if (this.stores.get(repo) === opening) this.stores.delete(repo) })
    while (this.stores.size > MAX_OPEN_STORES) {
      const [oldest, evicted] = this.stores.entries().next().value as [string, Promise<ObjectStore>]
      this.stores.delete(oldest)
      // Let requests in flight on it finish first: close only once nobody started one for a while.
      void evicted.then(store => { setTimeout(() => { store.close() }, STORE_CLOSE_DELAY_MS).unref() }, () => {})
    }
    return await opening
  }

  /** True when refs/gitmesh/fetched/<oid> names each oid (the ref cache can hold other refs' commits). */
  private async refsPointAt (store: ObjectStore, oids: string[]): Promise<boolean> {
    const infos = await store.infoMany(oids.map(oid => `refs/gitmesh/fetched/${oid}`))
    return infos.every((info, i) => info?.oid === oids[i])
  }

  /** A stream to the peer, or PeerUnreachableError saying why there is none. */
  private async openStream (peer: PeerId, signal: AbortSignal): Promise<Stream> {
    try {
      return await this.components.connectionManager.openStream(peer, OBJECTS_PROTOCOL, { signal })
    } catch (err) {
      if (signal.aborted) throw err
      const detail = err instanceof Error ? err.message : 'the connection was refused'
      throw new PeerUnreachableError(`could not reach ${peer.toString()}: ${detail} (is it running, at a known address, and does it trust this node?)`)
    }
  }

  private async handleStream (stream: Stream, connection: Connection): Promise<void> {
    const peerId = connection.remotePeer.toString()
    const channel = new MessageChannel<Want, FetcherMessage>(stream, ServerInbound, { budget: this.init.budget?.forPeer(peerId) })
    // Timers of our own, cleared in finally: a deadline must fire however long the daemon is busy.
    const serving = new Deadline(FETCH_TIMEOUT_MS)
    const requestTimeoutMs = this.init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    const arrival = new Deadline(requestTimeoutMs, serving.signal)
    const signal = serving.signal
    let requestRead = false
    try {
      const want = await channel.receive({ signal: arrival.signal })
      requestRead = true
      arrival.clear()
      if (want === null) {
        await stream.close({ signal })
        return
      }
      const grants = this.init.trust.isTrusted(peerId) ? this.init.grants.activeFor(peerId) : []
      await serveWant(channel, want, { grants, openStore: async repo => await this.openStore(repo), log: this.log, signal, objectsPerPack: this.init.objectsPerPack })
      await stream.close({ signal })
    } catch (err) {
      const malformed = isMalformed(err)
      const lateRequest = !requestRead && arrival.signal.aborted && !serving.signal.aborted
      this.log.error('request from %s failed - %e', peerId, err)
      // A peer over its buffer budget had its stream reset by the reader: nothing to answer.
      if (err instanceof BufferBudgetError) return
      try {
        const code = malformed || lateRequest ? 'bad-request' : 'internal'
        const message = malformed ? (err as Error).message : lateRequest ? `no complete request within ${requestTimeoutMs} ms` : 'internal error'
        await withDeadline(REPLY_TIMEOUT_MS, undefined, async replySignal => {
          await channel.send({ type: 'refuse', code, message: message.slice(0, MAX_STATUS_MESSAGE_CHARS) }, { signal: replySignal })
          await stream.close({ signal: replySignal })
        })
      } catch {
        stream.abort(err as Error)
      }
    } finally {
      // One request per stream: nothing the peer sends from now on is kept.
      channel.dispose()
      arrival.clear()
      serving.clear()
    }
  }

  /**
   * Brings everything reachable from `wants` that the repository at `into` lacks (creating it if
   * needed) and points `refs/gitmesh/fetched/<oid>` at each want.
   */
  async fetch (peer: PeerId, wants: string[], into: string, options: FetchOptions = {}): Promise<FetchReport> {
    // The same wants into the same repository at once are one transfer, shared.
    const key = `${path.resolve(into)}\0${[...wants].sort().join(',')}`
    const inFlight = this.fetches.get(key)
    // A caller that joins honours its own signal: a cancelled job stops waiting at once, while
    // the transfer goes on for whoever started it.
    if (inFlight !== undefined) return await (options.signal === undefined ? inFlight : abortable(inFlight, options.signal))
    const fetching = this.fetchOnce(peer, wants, into, options)
    this.fetches.set(key, fetching)
    try {
      return await fetching
    } finally {
      this.fetches.delete(key)
    }
  }

  private async fetchOnce (peer: PeerId, wants: string[], into: string, options: FetchOptions): Promise<FetchReport> {
    const started = performance.now()
    const store = await this.openStore(into, true)
    const deadline = new Deadline(FETCH_TIMEOUT_MS, options.signal)
    const signal = deadline.signal
    try {
      // A want that already has its refs/gitmesh/fetched/ ref is complete here: that ref is set
      // only once a whole closure is stored. Nothing to ask for.
      const fetchedRefs = new Set(await store.gitmeshCommits(Number.MAX_SAFE_INTEGER))
      if (wants.every(oid => fetchedRefs.has(oid)) && await this.refsPointAt(store, wants)) {
        return { objects: 0, bytes: 0, roundTrips: 0, ms: Math.round(performance.now() - started), refs: wants.map(oid => `refs/gitmesh/fetched/${oid}`), shallow: [] }
      }
      const haves = (options.haves ?? await defaultHaves(store)).filter(oid => !wants.includes(oid))
      const report: AttemptReport = { objects: 0, bytes: 0, roundTrips: 0 }
      const scope = new ResponseScope(wants)
      const attempts = this.init.fetchAttempts ?? FETCH_ATTEMPTS
      for (let attempt = 1; ; attempt++) {
        let skip: string[] = []
        if (attempt > 1 || (await store.presentSet(wants)).size > 0) {
          const stored = await storedPartOfClosure(store, wants, haves)
          if (stored.complete) break
          skip = stored.stored
          // The server still sends what the trees stored here refer to.
          scope.widen(stored.referenced)
        }
        try {
          const stream = await this.openStream(peer, signal)
          try {
            await fetchAttempt(stream, store, wants, haves, skip, report, { ...options, signal, scope, budget: this.init.budget?.forPeer(peer.toString()) })
          } catch (err) {
            // The server learns at once that we stopped listening, and stops sending.
            stream.abort(err instanceof Error ? err : new Error(String(err)))
            throw err
          }
          break
        } catch (err) {
          // A full disk stays full: said clearly, and not retried.
          const error = asDiskFull(err, store.dir) ?? err
          if (isFinal(error) || signal.aborted || attempt >= attempts) throw error
          this.log('fetch attempt %d from %p failed, resuming - %e', attempt, peer, err)
        }
      }
      // Refs under refs/gitmesh/ are offered as complete haves later, so a ref is set only when
      // the whole closure is here: a server that left holes gets an error, not a broken ref.
      const stored = await storedPartOfClosure(store, wants, haves)
      if (!stored.complete) throw new ProtocolError('the transfer finished with objects of the closure still missing')
      const shallow = await store.markShallowWhereParentsMissing(wants)
      const refs: string[] = []
      for (const oid of wants) {
        const ref = `refs/gitmesh/fetched/${oid}`
        await store.updateRef(ref, oid)
        refs.push(ref)
      }
      return { ...report, ms: Math.round(performance.now() - started), refs, shallow }
    } catch (err) {
      throw asDiskFull(err, store.dir) ?? err
    } finally {
      deadline.clear()
    }
  }
}

export function exchange (init: ExchangeInit): (components: ExchangeComponents) => Exchange {
  return (components) => new Exchange(components, init)
}

/** `promise`, or the signal's reason as soon as it aborts. */
async function abortable<T> (promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
