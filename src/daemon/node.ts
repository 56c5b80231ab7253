import type { PrivateKey } from '@libp2p/interface'
import { exchange, type ExchangeInit } from '../exchange/index.js'
import { createGitmeshNode, type GitmeshNode } from '../net/node.js'
import type { GrantStore } from '../store/grant-store.js'
import type { TrustStore } from '../store/trust-store.js'
import { BufferBudget, type BufferBudgetInit } from '../wire/budget.js'
import { FloodReclaimer } from './reclaim.js'

export interface DaemonNodeInit {
  privateKey: PrivateKey
  trust: TrustStore
  grants: GrantStore
  /** @default [DEFAULT_LISTEN] */
  listen?: string[]
  /** Settings of the object exchange beyond its stores (tests make packs small to cut transfers). */
  exchange?: Partial<Omit<ExchangeInit, 'grants' | 'trust' | 'budget'>>
  /** Limits of the node's buffer budget (tests lower them). */
  buffers?: BufferBudgetInit
  maxConnectionsPerPeer?: number
}

/**
 * The node of a daemon, composed here: the libp2p node of net/ with the object exchange, over the
 * daemon's trust and grant stores, and one buffer budget that every protocol's readers share.
 */
export async function createDaemonNode (init: DaemonNodeInit): Promise<GitmeshNode> {
  const buffers = new BufferBudget({ pressure: new FloodReclaimer(), ...init.buffers })
  return await createGitmeshNode({
    privateKey: init.privateKey,
    trust: init.trust,
    listen: init.listen,
    maxConnectionsPerPeer: init.maxConnectionsPerPeer,
    services: {
      exchange: exchange({ ...init.exchange, grants: init.grants, trust: init.trust, budget: buffers }),
      buffers
    }
  })
}
