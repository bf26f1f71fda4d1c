import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { boundedReason, type AccessEntry, type AccessStore } from './access-store.ts';

/** `blocked_until` for a block without end (SQLite integers cannot hold Infinity). */
const FOREVER = Number.MAX_SAFE_INTEGER;

interface Row { blocked_until: number | null; reason: string | null; revoked_before: number | null }

/**
 * Blocks and revocations in the gateway's SQLite database: they survive a restart. One row
 * per user that was ever blocked or revoked; an unblock clears the block columns and drops
 * the row when no revocation is left. The caller owns the database.
 */
export class SqliteAccessStore implements AccessStore {
  private readonly now: () => number;
  private readonly upsertBlock: StatementSync;
  private readonly clearBlock: StatementSync;
  private readonly dropEmpty: StatementSync;
  private readonly upsertRevoke: StatementSync;
  private readonly select: StatementSync;

  constructor(db: DatabaseSync, o: { now?: () => number } = {}) {
    this.now = o.now ?? Date.now;
    db.exec(`
      CREATE TABLE IF NOT EXISTS sb_access (
        user           TEXT PRIMARY KEY,
        blocked_until  INTEGER,
        reason         TEXT,
        revoked_before INTEGER
      ) WITHOUT ROWID;
    `);
    this.upsertBlock = db.prepare(`INSERT INTO sb_access (user, blocked_until, reason) VALUES (?, ?, ?)
      ON CONFLICT (user) DO UPDATE SET blocked_until = excluded.blocked_until, reason = excluded.reason`);
    this.clearBlock = db.prepare('UPDATE sb_access SET blocked_until = NULL, reason = NULL WHERE user = ?');
    this.dropEmpty = db.prepare('DELETE FROM sb_access WHERE user = ? AND blocked_until IS NULL AND revoked_before IS NULL');
    this.upsertRevoke = db.prepare(`INSERT INTO sb_access (user, revoked_before) VALUES (?, ?)
      ON CONFLICT (user) DO UPDATE SET revoked_before = max(coalesce(revoked_before, excluded.revoked_before), excluded.revoked_before)`);
    this.select = db.prepare('SELECT blocked_until, reason, revoked_before FROM sb_access WHERE user = ?');
  }

  async block(user: string, untilMs: number, reason?: string): Promise<void> {
    this.upsertBlock.run(user, Number.isFinite(untilMs) ? Math.round(untilMs) : FOREVER, boundedReason(reason) ?? null);
  }

  async unblock(user: string): Promise<void> {
    this.clearBlock.run(user);
    this.dropEmpty.run(user);
  }

  async revoke(user: string, beforeSec: number): Promise<void> {
    this.upsertRevoke.run(user, Math.floor(beforeSec));
  }

  async get(user: string): Promise<AccessEntry | undefined> {
    const row = this.select.get(user) as Row | undefined;
    if (!row) return undefined;
    const out: AccessEntry = {};
    if (row.blocked_until !== null && row.blocked_until > this.now()) {
      out.blockedUntil = row.blocked_until === FOREVER ? Infinity : row.blocked_until;
      if (row.reason !== null) out.reason = row.reason;
    }
    if (row.revoked_before !== null) out.revokedBefore = row.revoked_before;
    return Object.keys(out).length > 0 ? out : undefined;
  }

  async close(): Promise<void> {}
}
