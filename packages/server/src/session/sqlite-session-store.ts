import { createHash } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Session, SessionStore } from './session-store.ts';
import { newSessionId } from './session-id.ts';

export interface SqliteSessionStoreOptions {
  /** Clock in ms (tests). */
  now?: () => number;
  /** Expired rows are swept after this many creates (default 256). */
  sweepEvery?: number;
}

/**
 * Sessions in SQLite (`node:sqlite`), so they survive a gateway restart.
 *
 * Only a SHA-256 digest of each session id is stored: a copy of the database file does not
 * hand out sessions that can be resumed. The caller owns the `DatabaseSync` (opened with
 * WAL); `close()` does not close it. Statements run synchronously; the async interface is
 * for parity with networked stores.
 */
export class SqliteSessionStore implements SessionStore {
  private readonly now: () => number;
  private readonly sweepEvery: number;
  private creates = 0;
  private readonly insert: StatementSync;
  private readonly select: StatementSync;
  private readonly update: StatementSync;
  private readonly remove: StatementSync;
  private readonly sweepStmt: StatementSync;

  constructor(db: DatabaseSync, options: SqliteSessionStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sweepEvery = options.sweepEvery ?? 256;
    db.exec(`
      CREATE TABLE IF NOT EXISTS sb_sessions (
        id_hash      BLOB PRIMARY KEY,
        user         TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS sb_sessions_expires ON sb_sessions (expires_at);
    `);
    this.insert = db.prepare('INSERT INTO sb_sessions (id_hash, user, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)');
    this.select = db.prepare('SELECT user, created_at, last_seen_at, expires_at FROM sb_sessions WHERE id_hash = ?');
    this.update = db.prepare('UPDATE sb_sessions SET last_seen_at = ?, expires_at = ? WHERE id_hash = ? AND expires_at > ?');
    this.remove = db.prepare('DELETE FROM sb_sessions WHERE id_hash = ?');
    this.sweepStmt = db.prepare('DELETE FROM sb_sessions WHERE expires_at <= ?');
  }

  async create(user: string, idleTtlMs: number): Promise<Session> {
    const now = this.now();
    const id = newSessionId();
    this.insert.run(digest(id), user, now, now, now + idleTtlMs);
    if (++this.creates % this.sweepEvery === 0) this.sweepStmt.run(now);
    return { id, user, createdAt: now, lastSeenAt: now };
  }

  async get(id: string): Promise<Session | undefined> {
    const row = this.select.get(digest(id)) as { user: string; created_at: number; last_seen_at: number; expires_at: number } | undefined;
    if (!row) return undefined;
    if (row.expires_at <= this.now()) {
      this.remove.run(digest(id));
      return undefined;
    }
    return { id, user: row.user, createdAt: Number(row.created_at), lastSeenAt: Number(row.last_seen_at) };
  }

  async touch(id: string, idleTtlMs: number): Promise<void> {
    const now = this.now();
    this.update.run(now, now + idleTtlMs, digest(id), now);
  }

  async delete(id: string): Promise<void> {
    this.remove.run(digest(id));
  }

  async close(): Promise<void> {}
}

function digest(id: string): Buffer {
  return createHash('sha256').update(id).digest();
}
