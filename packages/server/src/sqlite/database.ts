import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** How hard a commit is pushed to disk. */
type SqliteSynchronous = 'normal' | 'full';

export interface SqliteOptions {
  /**
   * `normal` (default): a commit is written to the WAL file before it returns, so after an
   * `ack` a process crash or `kill -9` loses nothing; a power loss or kernel crash may lose
   * the last commits (the WAL is fsynced at checkpoints only).
   * `full`: every commit is fsynced too (survives power loss; each commit waits for the disk).
   */
  synchronous?: SqliteSynchronous;
  /** How long a statement waits for a lock held by another connection (ms). Default 5000. */
  busyTimeoutMs?: number;
}

/** Thrown when another process (another gateway) already holds the database file. */
export class DatabaseInUseError extends Error {
  constructor(path: string) {
    super(`${path} is in use by another Switchboard process: one gateway per SQLite file (run several nodes with --redis)`);
    this.name = 'DatabaseInUseError';
  }
}

/**
 * Opens (creating it and its parent directory when missing) the embedded database that the
 * SQLite stores share: one `DatabaseSync` per process, passed to each store's constructor.
 * Each store creates its own tables with `migrate`. `:memory:` opens a private in-memory
 * database (tests).
 *
 * Settings: WAL journal (readers never block the writer), `synchronous` as above, a busy
 * timeout, a 16 MB page cache, temporary tables in memory, and a WAL trimmed back to 64 MB
 * after checkpoints. The caller closes it (`db.close()`) after the stores that use it.
 *
 * The file is locked exclusively for as long as it is open: offsets are assigned by the
 * process that appends, so a second gateway on the same file would hand out the same
 * offsets. It fails at start-up with DatabaseInUseError instead (after the busy timeout).
 * The operating system releases the lock when the process dies, even by `kill -9`.
 */
export function openSqlite(path: string, options: SqliteOptions = {}): DatabaseSync {
  const memory = path === ':memory:';
  if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
  const db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
  try {
    if (!memory) {
      const mode = (db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string }).journal_mode;
      if (mode.toLowerCase() !== 'wal') throw new Error(`cannot switch ${path} to WAL mode (got ${mode})`);
    }
    db.exec(`
      PRAGMA synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'};
      PRAGMA foreign_keys = ON;
      PRAGMA temp_store = MEMORY;
      PRAGMA cache_size = -16000;
      PRAGMA journal_size_limit = 67108864;
    `);
    if (!memory) {
      db.exec('PRAGMA locking_mode = EXCLUSIVE');
      db.exec('BEGIN IMMEDIATE; COMMIT'); // takes the exclusive lock now, not at the first publish
    }
    db.exec('CREATE TABLE IF NOT EXISTS sb_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID');
  } catch (err) {
    db.close();
    if (!memory && /database is locked|SQLITE_BUSY/i.test((err as Error).message)) throw new DatabaseInUseError(path);
    throw err;
  }
  return db;
}

/**
 * Brings one component's tables up to date: runs `steps[v]`, `steps[v+1]` … where `v` is the
 * number of steps already applied to this database, each in its own transaction. Steps are
 * append-only: never edit a released step, add a new one. Idempotent.
 */
export function migrate(db: DatabaseSync, component: string, steps: readonly string[]): void {
  const row = db.prepare('SELECT version FROM sb_schema WHERE component = ?').get(component) as { version: number } | undefined;
  const applied = row?.version ?? 0;
  if (applied > steps.length) {
    throw new Error(`database schema of "${component}" is version ${applied}, newer than this build knows (${steps.length}); upgrade switchboard`);
  }
  for (let v = applied; v < steps.length; v++) {
    transaction(db, () => {
      db.exec(steps[v]!);
      db.prepare('INSERT INTO sb_schema (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version').run(component, v + 1);
    });
  }
}

/**
 * Runs `fn` in an immediate transaction (the write lock is taken at once), committing when it
 * returns and rolling back when it throws. `fn` must be synchronous: nothing else may run on
 * this connection while the transaction is open.
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}
