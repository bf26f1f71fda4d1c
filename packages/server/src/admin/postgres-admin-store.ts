import { endPool, type PgPool } from '../postgres/connect.ts';
import type { AdminStore, NodeHeader, NodeStats, StatsSample } from './admin-store.ts';

/**
 * The admin store of a cluster in PostgreSQL: sessions (`sb_admin_sessions`, by digest),
 * each node's header with its expiry (`sb_admin_nodes`) and its newest samples
 * (`sb_admin_samples`, trimmed to `keep` on every report).
 */
export class PostgresAdminStore implements AdminStore {
  private readonly pool: PgPool;
  private readonly owns: boolean;
  private reports = 0;

  constructor(o: { pool: PgPool; owns?: boolean }) {
    this.pool = o.pool;
    this.owns = o.owns ?? true;
  }

  async createSession(digest: string, ttlMs: number): Promise<void> {
    await this.pool.query(
      'INSERT INTO sb_admin_sessions (digest, expires_at) VALUES ($1, $2) ON CONFLICT (digest) DO UPDATE SET expires_at = excluded.expires_at',
      [digest, Date.now() + ttlMs],
    );
  }

  async sessionExpiry(digest: string): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ expires_at: string }>('SELECT expires_at FROM sb_admin_sessions WHERE digest = $1 AND expires_at > $2', [digest, Date.now()]);
    return rows[0] ? Number(rows[0].expires_at) : undefined;
  }

  async deleteSession(digest: string): Promise<void> {
    await this.pool.query('DELETE FROM sb_admin_sessions WHERE digest = $1 OR expires_at <= $2', [digest, Date.now()]);
  }

  async report(header: NodeHeader, sample: StatsSample, o: { keep: number; ttlMs: number }): Promise<void> {
    // Now and then, nodes gone for an hour (each restart is a new node) and expired sessions go.
    if (++this.reports % 500 === 0) {
      const now = Date.now();
      await this.pool.query(
        `WITH gone AS (DELETE FROM sb_admin_nodes WHERE expires_at < $1 RETURNING id),
         s AS (DELETE FROM sb_admin_samples WHERE node IN (SELECT id FROM gone))
         DELETE FROM sb_admin_sessions WHERE expires_at <= $2`,
        [now - 3_600_000, now],
      ).catch(() => { /* next time */ });
    }
    // One statement: the node's header, its new sample, and its older samples beyond `keep` deleted
    // (the statement's snapshot does not see the new one: keep - 1 of the old ones stay).
    await this.pool.query(
      `WITH n AS (
         INSERT INTO sb_admin_nodes (id, header, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET header = excluded.header, expires_at = excluded.expires_at),
       s AS (INSERT INTO sb_admin_samples (node, sample) VALUES ($1, $4))
       DELETE FROM sb_admin_samples WHERE node = $1 AND seq < coalesce(
         (SELECT min(seq) FROM (SELECT seq FROM sb_admin_samples WHERE node = $1 ORDER BY seq DESC LIMIT $5) k),
         9223372036854775807)`,
      [header.id, JSON.stringify(header), Date.now() + o.ttlMs, JSON.stringify(sample), Math.max(0, o.keep - 1)],
    );
  }

  async nodeIds(): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM sb_admin_nodes WHERE expires_at > $1 ORDER BY id COLLATE "C"', [Date.now()]);
    return rows.map((r) => r.id);
  }

  async nodes(): Promise<NodeStats[]> {
    const { rows } = await this.pool.query<{ id: string; header: string; samples: string[] | null }>(
      `SELECT n.id, n.header, (SELECT array_agg(s.sample ORDER BY s.seq) FROM sb_admin_samples s WHERE s.node = n.id) AS samples
       FROM sb_admin_nodes n WHERE n.expires_at > $1 ORDER BY n.id COLLATE "C"`,
      [Date.now()],
    );
    return rows.map((r) => ({ node: JSON.parse(r.header) as NodeHeader, samples: (r.samples ?? []).map((s) => JSON.parse(s) as StatsSample) }));
  }

  async forget(nodeId: string): Promise<void> {
    await this.pool.query('WITH n AS (DELETE FROM sb_admin_nodes WHERE id = $1) DELETE FROM sb_admin_samples WHERE node = $1', [nodeId]);
  }

  async close(): Promise<void> {
    if (this.owns) await endPool(this.pool);
  }
}
