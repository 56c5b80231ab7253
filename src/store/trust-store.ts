import type { Db } from './database.js'

export const ROLES = ['author', 'builder'] as const
export type Role = typeof ROLES[number]

export interface TrustedPeer {
  peerId: string
  roles: Role[]
  addrs: string[]
  addedAt: number
  lastRttMs?: number
  lastSeenAt?: number
}

interface PeerRow {
  peer_id: string
  roles: string
  addrs: string
  added_at: number
  last_rtt_ms: number | null
  last_seen_at: number | null
}

/** The trust list: which peers may connect at all, and in which roles. Reads are cached in memory for the gater. */
export class TrustStore {
  private cache?: Map<string, TrustedPeer>

  constructor (private readonly db: Db) {}

  private load (): Map<string, TrustedPeer> {
    if (this.cache !== undefined) return this.cache
    const rows = this.db.prepare('SELECT * FROM peers ORDER BY added_at').all() as PeerRow[]
    this.cache = new Map(rows.map(row => [row.peer_id, fromRow(row)]))
    return this.cache
  }

  list (): TrustedPeer[] {
    return [...this.load().values()]
  }

  get (peerId: string): TrustedPeer | undefined {
    return this.load().get(peerId)
  }

  isTrusted (peerId: string): boolean {
    return this.load().has(peerId)
  }

  hasRole (peerId: string, role: Role): boolean {
    return this.load().get(peerId)?.roles.includes(role) ?? false
  }

  /** Adds a peer or merges new roles and addresses into an existing entry. */
  trust (peerId: string, roles: Role[], addrs: string[]): TrustedPeer {
    const existing = this.get(peerId)
    const merged: TrustedPeer = {
      peerId,
      roles: [...new Set([...(existing?.roles ?? []), ...roles])].sort() as Role[],
      addrs: [...new Set([...(existing?.addrs ?? []), ...addrs])],
      addedAt: existing?.addedAt ?? Date.now(),
      lastRttMs: existing?.lastRttMs,
      lastSeenAt: existing?.lastSeenAt
    }
    this.db.prepare(`INSERT INTO peers (peer_id, roles, addrs, added_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (peer_id) DO UPDATE SET roles = excluded.roles, addrs = excluded.addrs`)
      .run(peerId, JSON.stringify(merged.roles), JSON.stringify(merged.addrs), merged.addedAt)
    this.load().set(peerId, merged)
    return merged
  }

  /** Removes a peer; true when it was trusted. */
  untrust (peerId: string): boolean {
    const { changes } = this.db.prepare('DELETE FROM peers WHERE peer_id = ?').run(peerId)
    this.load().delete(peerId)
    return changes > 0
  }

  recordRtt (peerId: string, ms: number): void {
    const peer = this.load().get(peerId)
    if (peer === undefined) return
    peer.lastRttMs = ms
    peer.lastSeenAt = Date.now()
    this.db.prepare('UPDATE peers SET last_rtt_ms = ?, last_seen_at = ? WHERE peer_id = ?').run(ms, peer.lastSeenAt, peerId)
  }
}

function fromRow (row: PeerRow): TrustedPeer {
  return {
    peerId: row.peer_id,
    roles: JSON.parse(row.roles) as Role[],
    addrs: JSON.parse(row.addrs) as string[],
    addedAt: row.added_at,
    lastRttMs: row.last_rtt_ms ?? undefined,
    lastSeenAt: row.last_seen_at ?? undefined
  }
}
