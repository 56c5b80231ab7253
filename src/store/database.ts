import Database from 'libsql'

/**
 * The node's embedded SQLite database (libsql: a Node-API binding shipped as prebuilt binaries
 * in npm packages, so it installs without a compiler on every supported Node version; see
 * docs/architecture.md). WAL mode keeps readers and the daemon's writer out of each other's way.
 */
export type Db = InstanceType<typeof Database>

const MIGRATIONS: string[] = [
  `CREATE TABLE peers (
     peer_id TEXT PRIMARY KEY,
     roles TEXT NOT NULL,
     addrs TEXT NOT NULL,
     added_at INTEGER NOT NULL,
     last_rtt_ms REAL,
     last_seen_at INTEGER
   );
   CREATE TABLE grants (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     peer_id TEXT NOT NULL,
     root TEXT NOT NULL,
     repo TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER
   );
   CREATE INDEX grants_by_peer ON grants (peer_id, created_at);`
]

export function openDatabase (file: string): Db {
  const db = new Database(file)
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = NORMAL')
  db.exec('PRAGMA busy_timeout = 5000')
  migrate(db)
  return db
}

function migrate (db: Db): void {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number }
  for (let version = row.user_version; version < MIGRATIONS.length; version++) {
    db.exec('BEGIN')
    try {
      db.exec(MIGRATIONS[version]!)
      db.exec(`PRAGMA user_version = ${version + 1}`)
      db.exec('COMMIT')
    } catch (err) {
      db.exec('ROLLBACK')
      throw err
    }
  }
}
