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
   CREATE INDEX grants_by_peer ON grants (peer_id, created_at);`,
  // Jobs this node authored, and the attempts builders reported for them.
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     repo TEXT NOT NULL,
     prompt TEXT NOT NULL,
     snapshot TEXT NOT NULL,
     state TEXT NOT NULL,
     reason TEXT,
     builder TEXT,
     test_command TEXT NOT NULL,
     attempts_budget INTEGER NOT NULL,
     generate_timeout_ms INTEGER NOT NULL,
     test_timeout_ms INTEGER NOT NULL,
     round INTEGER NOT NULL DEFAULT 1,
     attempt INTEGER NOT NULL DEFAULT 0,
     progress TEXT,
     result TEXT,
     w0 TEXT,
     merge TEXT,
     accepted_commit TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX jobs_by_state ON jobs (state, created_at);
   CREATE TABLE job_attempts (
     job_id TEXT NOT NULL,
     round INTEGER NOT NULL,
     number INTEGER NOT NULL,
     passed INTEGER NOT NULL,
     generate_ms INTEGER NOT NULL,
     test_ms INTEGER NOT NULL,
     log TEXT NOT NULL,
     PRIMARY KEY (job_id, round, number)
   );
   CREATE TABLE builder_jobs (
     author TEXT NOT NULL,
     id TEXT NOT NULL,
     round INTEGER NOT NULL,
     name TEXT NOT NULL,
     spec TEXT NOT NULL,
     state TEXT NOT NULL,
     attempt INTEGER NOT NULL DEFAULT 0,
     result TEXT,
     acked INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (author, id)
   );
   CREATE INDEX builder_jobs_by_state ON builder_jobs (state, created_at);`,
  // The process group of a job's running command, so a builder restarted after a crash can end it.
  'ALTER TABLE builder_jobs ADD COLUMN pgid INTEGER',
  // Scheduling: priority, dependencies, ownership, fan-out and builder choice per job.
  `ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN after TEXT NOT NULL DEFAULT '[]';
   ALTER TABLE jobs ADD COLUMN owns TEXT NOT NULL DEFAULT '[]';
   ALTER TABLE jobs ADD COLUMN fanout INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE jobs ADD COLUMN builders TEXT NOT NULL DEFAULT '[]';
   ALTER TABLE jobs ADD COLUMN blocked_by TEXT;
   ALTER TABLE jobs ADD COLUMN outside_owns TEXT;`,
  // Every result a job received (fan-out, or a late one from a lost builder), in arrival order.
  `CREATE TABLE candidates (
     job_id TEXT NOT NULL,
     round INTEGER NOT NULL,
     builder TEXT NOT NULL,
     number INTEGER NOT NULL,
     result TEXT NOT NULL,
     PRIMARY KEY (job_id, round, builder)
   );`,
  // Fan-out: the builders besides `builder` that run the same round of a job.
  `ALTER TABLE jobs ADD COLUMN extra_builders TEXT NOT NULL DEFAULT '[]'`,
  // Dependencies: which commit a round runs on, stacking on a dependency's result, and when
  // fan-out builders stop. Jobs from before ran on their offer's snapshot.
  `ALTER TABLE jobs ADD COLUMN ran_on TEXT;
   ALTER TABLE jobs ADD COLUMN stack INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN fanout_stop TEXT NOT NULL DEFAULT 'none';
   UPDATE jobs SET ran_on = json_object('kind', 'snapshot', 'commit', snapshot) WHERE after = '[]' OR state NOT IN ('queued', 'lost');`,
  // Tokens and cost an agent preset reported per attempt; NULL when the generator reports none.
  `ALTER TABLE job_attempts ADD COLUMN input_tokens INTEGER;
   ALTER TABLE job_attempts ADD COLUMN output_tokens INTEGER;
   ALTER TABLE job_attempts ADD COLUMN cost_usd REAL;`,
  // gitmesh.json's setup step and the timeouts it sets itself (JSON); jobs from before had neither.
  `ALTER TABLE jobs ADD COLUMN setup TEXT;
   ALTER TABLE jobs ADD COLUMN project_timeouts TEXT;`,
  // Live logs (src/logs/). Author: each round's output per builder as it arrived (`seq` is the
  // followers' cursor), where each stream stands, and what each attempt dropped past its bound.
  // Builder: output its author has not taken yet, per job round.
  `CREATE TABLE log_chunks (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     job_id TEXT NOT NULL,
     round INTEGER NOT NULL,
     builder TEXT NOT NULL,
     attempt INTEGER NOT NULL,
     step TEXT NOT NULL,
     offset INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     text TEXT NOT NULL,
     at INTEGER NOT NULL
   );
   CREATE INDEX log_chunks_by_job ON log_chunks (job_id, round, seq);
   CREATE INDEX log_chunks_by_attempt ON log_chunks (job_id, round, attempt, seq);
   CREATE TABLE log_streams (
     job_id TEXT NOT NULL,
     round INTEGER NOT NULL,
     builder TEXT NOT NULL,
     held INTEGER NOT NULL,
     PRIMARY KEY (job_id, round, builder)
   );
   CREATE TABLE log_attempts (
     job_id TEXT NOT NULL,
     round INTEGER NOT NULL,
     attempt INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     dropped INTEGER NOT NULL,
     PRIMARY KEY (job_id, round, attempt)
   );
   CREATE TABLE spool_streams (
     author TEXT NOT NULL,
     job_id TEXT NOT NULL,
     round INTEGER NOT NULL,
     next_offset INTEGER NOT NULL,
     acked INTEGER NOT NULL,
     ended INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (author, job_id, round)
   );
   CREATE TABLE spool_chunks (
     author TEXT NOT NULL,
     job_id TEXT NOT NULL,
     round INTEGER NOT NULL,
     offset INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     attempt INTEGER NOT NULL,
     step TEXT NOT NULL,
     text TEXT NOT NULL,
     PRIMARY KEY (author, job_id, round, offset)
   );`
]

/** Runs `work` in one transaction: all of it is written, or none of it. */
export function transaction<T> (db: Db, work: () => T): T {
  db.exec('BEGIN IMMEDIATE')
  try {
    const result = work()
    db.exec('COMMIT')
    return result
  } catch (err) {
    db.exec('ROLLBACK')
    throw err
  }
}

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
