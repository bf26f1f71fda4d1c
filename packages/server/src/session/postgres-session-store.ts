import { createHash } from 'node:crypto';
import type { Session, SessionStore } from './session-store.ts';
import { newSessionId } from './session-id.ts';
import { endPool, type PgPool } from '../postgres/connect.ts';

/**
 * Sessions in PostgreSQL, shared by every node: a client may resume its session on any node.
 * Only a SHA-256 digest of each id is stored (`sb_sessions`). The store's clock decides
 * expiry; expired rows are deleted every `sweepEvery` creates.
 */
export class PostgresSessionStore implements SessionStore {
  private readonly pool: PgPool;
  private readonly owns: boolean;
  private readonly now: () => number;
  private readonly sweepEvery: number;
  private creates = 0;

  constructor(o: { pool: PgPool; owns?: boolean; now?: () => number; sweepEvery?: number }) {
    this.pool = o.pool;
    this.owns = o.owns ?? true;
    this.now = o.now ?? Date.now;
    this.sweepEvery = o.sweepEvery ?? 256;
  }

  async create(user: string, idleTtlMs: number): Promise<Session> {
    const now = this.now();
    const id = newSessionId();
    await this.pool.query('INSERT INTO sb_sessions (id_hash, "user", created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)', [digest(id), user, now, now + idleTtlMs]);
    if (++this.creates % this.sweepEvery === 0) {
      await this.pool.query('DELETE FROM sb_sessions WHERE ctid = ANY (ARRAY(SELECT ctid FROM sb_sessions WHERE expires_at <= $1 LIMIT 10000))', [now]);
    }
    return { id, user, createdAt: now, lastSeenAt: now };
  }

  async get(id: string): Promise<Session | undefined> {
    const { rows } = await this.pool.query<{ user: string; created_at: string; last_seen_at: string }>(
      'SELECT "user", created_at, last_seen_at FROM sb_sessions WHERE id_hash = $1 AND expires_at > $2', [digest(id), this.now()],
    );
    const r = rows[0];
    return r && { id, user: r.user, createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at) };
  }

  async touch(id: string, idleTtlMs: number): Promise<void> {
    const now = this.now();
    await this.pool.query('UPDATE sb_sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1 AND expires_at > $2', [digest(id), now, now + idleTtlMs]);
  }

  async delete(id: string): Promise<void> {
    await this.pool.query('DELETE FROM sb_sessions WHERE id_hash = $1', [digest(id)]);
  }

  async close(): Promise<void> {
    if (this.owns) await endPool(this.pool);
  }
}

function digest(id: string): Buffer {
  return createHash('sha256').update(id).digest();
}
