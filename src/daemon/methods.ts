import path from 'node:path'
import { z } from 'zod'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '@libp2p/interface'
import type { GitmeshNode } from '../net/node.js'
import { keepBuildersConnected } from '../net/keep-alive.js'
import { ROLES, type TrustStore } from '../store/trust-store.js'
import type { GrantStore } from '../store/grant-store.js'
import type { Builder } from '../builder/builder.js'
import type { Author } from '../author/author.js'
import { ObjectStore } from '../git/object-store.js'
import { isOid } from '../git/oid.js'
import { parseMessage } from '../wire/channel.js'
import { InvalidRequestError } from './errors.js'
import { multiaddrText } from '../home/config.js'
import type { ControlMethod } from './control-server.js'
import type { IdView, MemoryView, PeerView } from './views.js'

export interface MethodContext {
  node: GitmeshNode
  trust: TrustStore
  grants: GrantStore
  /** Present when this node runs jobs. */
  builder?: Builder
  /** This node's author side: what it knows of its builders' loads. */
  author?: Author
  log: Logger
}

const peerIdText = z.string().refine(text => {
  try {
    peerIdFromString(text)
    return true
  } catch {
    return false
  }
}, 'not a valid peer id')
const oidText = z.string().refine(isOid, 'not a 40-hex object id')
const absolutePath = z.string().refine(p => path.isAbsolute(p), 'must be an absolute path')

function params<T> (schema: z.ZodType<T>, value: unknown): T {
  try {
    return parseMessage(schema, value)
  } catch (err) {
    throw new InvalidRequestError((err as Error).message.replace(/^invalid /, ''))
  }
}

/** The control API's methods: each validates its parameters, then calls into the node. */
export function controlMethods (ctx: MethodContext): Record<string, ControlMethod> {
  const { node, trust, grants } = ctx

  const peerView = (peerId: string): PeerView => {
    const peer = trust.get(peerId)!
    const connections = node.getConnections().filter(c => c.remotePeer.toString() === peerId)
    return {
      peerId,
      roles: peer.roles,
      connected: connections.length > 0,
      addrs: [...new Set([...peer.addrs, ...connections.map(c => c.remoteAddr.toString())])],
      lastRttMs: peer.lastRttMs ?? null,
      lastSeenAt: peer.lastSeenAt ?? null,
      // For builders: their last advertised slots, running and queued jobs, and tags.
      ...(peer.roles.includes('builder')
        ? (() => { const load = ctx.author?.builderLoad(peerId); return { slots: load?.slots ?? null, running: load?.running ?? null, queued: load?.queued ?? null, tags: load?.tags ?? [] } })()
        : {})
    }
  }

  return {
    id: async (): Promise<IdView> => ({
      peerId: node.peerId.toString(),
      addrs: node.getMultiaddrs().map(ma => ma.toString()),
      builder: ctx.builder === undefined ? null : ctx.builder.load(),
      memory: memoryView()
    }),

    peers: async () => trust.list().map(peer => peerView(peer.peerId)),

    trust: async (raw) => {
      const p = params(z.object({ peerId: peerIdText, roles: z.array(z.enum(ROLES)).default([]), addrs: z.array(multiaddrText).default([]) }), raw)
      if (p.peerId === node.peerId.toString()) throw new InvalidRequestError('a node does not need to trust itself')
      trust.trust(p.peerId, p.roles, p.addrs)
      if (p.addrs.length > 0) {
        await node.peerStore.merge(peerIdFromString(p.peerId), { multiaddrs: p.addrs.map(a => multiaddr(a)) })
      }
      await keepBuildersConnected(node, trust, p.peerId, ctx.log)
      return peerView(p.peerId)
    },

    untrust: async (raw) => {
      const p = params(z.object({ peerId: peerIdText }), raw)
      const removed = trust.untrust(p.peerId)
      // Its grants go too: trusting it again later must not revive old permissions.
      grants.revokePeer(p.peerId)
      await keepBuildersConnected(node, trust, p.peerId, ctx.log)
      // Applied live: close whatever connection the peer still has.
      await node.hangUp(peerIdFromString(p.peerId)).catch(() => {})
      return { peerId: p.peerId, removed }
    },

    grant: async (raw) => {
      const p = params(z.object({ peerId: peerIdText, root: oidText, repo: absolutePath, expiresAt: z.number().int().positive().optional() }), raw)
      if (!trust.isTrusted(p.peerId)) throw new InvalidRequestError(`peer ${p.peerId} is not trusted: run \`gitmesh trust ${p.peerId}\` first`)
      const store = await ObjectStore.open(p.repo)
      try {
        if (await store.resolveCommit(p.root) !== p.root) throw new InvalidRequestError(`${p.root} is not a commit in ${p.repo}`)
      } finally {
        store.close()
      }
      return grants.add(p.peerId, p.root, p.repo, p.expiresAt)
    },

    grants: async () => grants.list(),

    fetch: async (raw, emit, signal) => {
      const p = params(z.object({ peerId: peerIdText, oid: oidText, into: absolutePath }), raw)
      if (!trust.isTrusted(p.peerId)) throw new InvalidRequestError(`peer ${p.peerId} is not trusted: run \`gitmesh trust ${p.peerId}\` first`)
      return await node.services.exchange.fetch(peerIdFromString(p.peerId), [p.oid], p.into, {
        signal,
        onProgress: progress => { emit({ type: 'progress', ...progress }) }
      })
    },

    ping: async (raw, _emit, signal) => {
      const p = params(z.object({ peerId: peerIdText }), raw)
      const ms = await node.services.ping.ping(peerIdFromString(p.peerId), { signal })
      trust.recordRtt(p.peerId, ms)
      return { peerId: p.peerId, ms }
    }
  }
}

/**
 * The daemon's memory as the process sees it (bytes): resident, V8's heap in use, and the buffers
 * outside it. What a flood costs shows in all three; what it leaves behind only in `rss`, where
 * the allocator keeps freed pages for reuse (docs/security.md).
 */
function memoryView (): MemoryView {
  const { rss, heapUsed, arrayBuffers } = process.memoryUsage()
  return { rss, heapUsed, arrayBuffers }
}
