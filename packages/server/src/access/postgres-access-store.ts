import { boundedReason, type AccessEntry, type AccessStore } from './access-store.ts';
import { endPool, type PgPool } from '../postgres/connect.ts';

/**
 * Blocks and revocations in PostgreSQL (`sb_access`, one row per user), shared by every
 * node. Each write is one statement, so concurrent blocks and revocations of a user never
 * lose one another; a revocation only moves forward (`greatest`).
 */
export class PostgresAccessStore implements AccessStore {
  private readonly pool: PgPool;
  private readonly owns: boolean;
  private readonly now: () => number;

  constructor(o: { pool: PgPool; owns?: boolean; now?: () => number }) {
    this.pool = o.pool;
    this.owns = o.owns ?? true;
    this.now = o.now ?? Date.now;
  }

  async block(user: string, untilMs: number, reason?: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO sb_access ("user", blocked_until, reason) VALUES ($1, $2, $3)
       ON CONFLICT ("user") DO UPDATE SET blocked_until = excluded.blocked_until, reason = excluded.reason`,
      [user, Number.isFinite(untilMs) ? Math.round(untilMs) : 'Infinity', boundedReason(reason) ?? null],
    );
  }

  async unblock(user: string): Promise<void> {
    await this.pool.query('UPDATE sb_access SET blocked_until = NULL, reason = NULL WHERE "user" = $1', [user]);
  }

  async revoke(user: string, beforeSec: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO sb_access AS a ("user", revoked_before) VALUES ($1, $2)
       ON CONFLICT ("user") DO UPDATE SET revoked_before = greatest(coalesce(a.revoked_before, excluded.revoked_before), excluded.revoked_before)`,
      [user, Math.floor(beforeSec)],
    );
  }

  async get(user: string): Promise<AccessEntry | undefined> {
    const { rows } = await this.pool.query<{ blocked_until: number | null; reason: string | null; revoked_before: string | null }>(
      'SELECT blocked_until, reason, revoked_before FROM sb_access WHERE "user" = $1', [user],
    );
    const r = rows[0];
    if (!r) return undefined;
    const out: AccessEntry = {};
    if (r.blocked_until !== null && r.blocked_until > this.now()) {
      out.blockedUntil = r.blocked_until;
      if (r.reason !== null) out.reason = r.reason;
    }
    if (r.revoked_before !== null) out.revokedBefore = Number(r.revoked_before);
    return Object.keys(out).length > 0 ? out : undefined;
  }

  async close(): Promise<void> {
    if (this.owns) await endPool(this.pool);
  }
}
