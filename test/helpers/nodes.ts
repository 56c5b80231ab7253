import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { GitmeshNode } from '../../src/net/node.js'
import { createDaemonNode } from '../../src/daemon/node.js'
import { openDatabase, type Db } from '../../src/store/database.js'
import { TrustStore } from '../../src/store/trust-store.js'
import { GrantStore } from '../../src/store/grant-store.js'

export interface TestNode {
  node: GitmeshNode
  peerId: string
  trust: TrustStore
  grants: GrantStore
  db: Db
  dir: string
  stop: () => Promise<void>
}

/** A real gitmesh libp2p node on loopback with its own temporary database. */
export async function startTestNode (exchange: Parameters<typeof createDaemonNode>[0]['exchange'] = {}): Promise<TestNode> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gitmesh-node-'))
  const db = openDatabase(path.join(dir, 'gitmesh.db'))
  const trust = new TrustStore(db)
  const grants = new GrantStore(db)
  const node = await createDaemonNode({ privateKey: await generateKeyPair('Ed25519'), trust, grants, listen: ['/ip4/127.0.0.1/tcp/0'], exchange })
  return {
    node,
    peerId: node.peerId.toString(),
    trust,
    grants,
    db,
    dir,
    stop: async () => {
      await node.stop()
      db.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** Makes two nodes trust each other and tells each where the other listens. */
export async function pair (a: TestNode, b: TestNode): Promise<void> {
  a.trust.trust(b.peerId, ['builder'], [])
  b.trust.trust(a.peerId, ['author'], [])
  await a.node.peerStore.merge(b.node.peerId, { multiaddrs: b.node.getMultiaddrs() })
  await b.node.peerStore.merge(a.node.peerId, { multiaddrs: a.node.getMultiaddrs() })
}
