import { endPool, type PgPool } from './connect.ts';
import type { Logger } from '../logger.ts';

/**
 * This node's row in `sb_nodes`, kept fresh: one write every `intervalMs`, whatever the node
 * holds. Every entry the node writes elsewhere (presence, logins, occupancy) names it, and
 * counts only while this row's `expires_at` lies ahead (`sb_live`), so a node that dies stops
 * counting `ttlMs` after its last beat. `info` (the node directory) rides along.
 */
export class PgNodeLiveness {
  readonly id: string;
  readonly ttlMs: number;
  private readonly pool: PgPool;
  private readonly owns: boolean;
  private readonly info: (() => string | null) | undefined;
  private readonly log: Logger | undefined;
  private readonly timer: NodeJS.Timeout;
  private first: Promise<void> | undefined;
  private stopped = false;
  private beats = 0;

  constructor(o: { pool: PgPool; owns?: boolean; id: string; ttlMs?: number; intervalMs?: number; info?: () => string | null; log?: Logger }) {
    this.pool = o.pool;
    this.owns = o.owns ?? false;
    this.id = o.id;
    const interval = o.intervalMs ?? 5000;
    this.ttlMs = o.ttlMs ?? interval * 3;
    this.info = o.info;
    this.log = o.log;
    this.timer = setInterval(() => void this.beat().catch((err) => this.log?.warn({ err: (err as Error).message }, 'postgres: node liveness refresh failed; retrying next interval')), interval);
    this.timer.unref();
  }

  /** Resolves once this node's row was written at least once (writers await it before their first entry). */
  ensure(): Promise<void> {
    if (!this.first) {
      this.first = this.beat();
      this.first.catch(() => (this.first = undefined));
    }
    return this.first;
  }

  /** Pushes this node's expiry forward (and its directory info); now and then, forgets long-dead nodes. */
  async beat(): Promise<void> {
    if (this.stopped) return;
    if (++this.beats % 60 === 0) await this.forgetDead().catch((err) => this.log?.warn({ err: (err as Error).message }, 'postgres: forgetting dead nodes failed'));
    await this.pool.query(
      `INSERT INTO sb_nodes (id, expires_at, info) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, info = coalesce(excluded.info, sb_nodes.info)`,
      [this.id, Date.now() + this.ttlMs, this.info?.() ?? null],
    );
  }

  /**
   * Deletes nodes dead for `deadForMs` (10 minutes) that hold nothing any more (their presence, logins and
   * occupancy were settled by the sweeps), with their directory channels: every restart makes
   * a new node id, and the table must not grow with them. A missing row reads as dead.
   */
  async forgetDead(deadForMs = 600_000): Promise<void> {
    const before = Date.now() - deadForMs;
    await this.pool.query(
      `WITH dead AS (
         SELECT n.id FROM sb_nodes n WHERE n.expires_at < $1
           AND NOT EXISTS (SELECT 1 FROM sb_presence p WHERE p.node = n.id)
           AND NOT EXISTS (SELECT 1 FROM sb_user_conns c WHERE c.node = n.id)
           AND NOT EXISTS (SELECT 1 FROM sb_login_clients l WHERE l.node = n.id)
           AND NOT EXISTS (SELECT 1 FROM sb_occupancy_held h WHERE h.node = n.id)
         LIMIT 1000),
       d AS (DELETE FROM sb_directory_channels WHERE node IN (SELECT id FROM dead))
       DELETE FROM sb_nodes WHERE id IN (SELECT id FROM dead)`,
      [before],
    );
  }

  /** Stops beating; with `forget`, removes the row (a graceful stop: the node's entries stop counting now). */
  async stop(forget = false): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    if (forget) await this.pool.query('DELETE FROM sb_nodes WHERE id = $1', [this.id]).catch(() => {});
    if (this.owns) await endPool(this.pool);
  }
}
