import type { Db } from './database.js'

export interface Grant {
  id: number
  peerId: string
  /** The commit whose closure the peer may fetch. */
  root: string
  /** Absolute path of the repository holding the objects. */
  repo: string
  createdAt: number
  expiresAt?: number
}

interface GrantRow {
  id: number
  peer_id: string
  root: string
  repo: string
  created_at: number
  expires_at: number | null
}

/** Grants: a peer may fetch the objects reachable from one root, until it expires. */
export class GrantStore {
  constructor (private readonly db: Db) {}

  add (peerId: string, root: string, repo: string, expiresAt?: number): Grant {
    const createdAt = Date.now()
    const existing = this.db.prepare('SELECT * FROM grants WHERE peer_id = ? AND root = ? AND repo = ?').get(peerId, root, repo) as GrantRow | undefined
    if (existing !== undefined) {
      // Re-sharing sets the expiry it is given: the latest decision wins, shorter or longer.
      const expiry = expiresAt ?? null
      this.db.prepare('UPDATE grants SET expires_at = ?, created_at = ? WHERE id = ?').run(expiry, createdAt, existing.id)
      return fromRow({ ...existing, expires_at: expiry, created_at: createdAt })
    }
    const { lastInsertRowid } = this.db.prepare('INSERT INTO grants (peer_id, root, repo, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(peerId, root, repo, createdAt, expiresAt ?? null)
    return { id: Number(lastInsertRowid), peerId, root, repo, createdAt, expiresAt }
  }

  /** Unexpired grants of one peer, newest first. */
  activeFor (peerId: string, now = Date.now()): Grant[] {
    const rows = this.db.prepare('SELECT * FROM grants WHERE peer_id = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC, id DESC')
      .all(peerId, now) as GrantRow[]
    return rows.map(fromRow)
  }

  list (now = Date.now()): Grant[] {
    const rows = this.db.prepare('SELECT * FROM grants WHERE expires_at IS NULL OR expires_at > ? ORDER BY created_at DESC, id DESC').all(now) as GrantRow[]
    return rows.map(fromRow)
  }

  /** Removes one grant (an offer the peer declined). */
  /** True when `peerId` holds a grant in force for exactly this root in this repository. */
  has (peerId: string, root: string, repo: string, now = Date.now()): boolean {
    return this.db.prepare('SELECT 1 FROM grants WHERE peer_id = ? AND root = ? AND repo = ? AND (expires_at IS NULL OR expires_at > ?)').get(peerId, root, repo, now) !== undefined
  }

  revoke (peerId: string, root: string, repo: string): void {
    this.db.prepare('DELETE FROM grants WHERE peer_id = ? AND root = ? AND repo = ?').run(peerId, root, repo)
  }

  revokePeer (peerId: string): number {
    return this.db.prepare('DELETE FROM grants WHERE peer_id = ?').run(peerId).changes
  }

  pruneExpired (now = Date.now()): number {
    return this.db.prepare('DELETE FROM grants WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now).changes
  }
}

function fromRow (row: GrantRow): Grant {
  return { id: row.id, peerId: row.peer_id, root: row.root, repo: row.repo, createdAt: row.created_at, expiresAt: row.expires_at ?? undefined }
}
