import { endPool, type PgPool } from '../postgres/connect.ts';
import type { ServerSubscriptionStore } from './server-subscription-store.ts';

/**
 * Persistent server-side subscriptions in PostgreSQL, shared by every node: one row per
 * (user, channel), ordered by a sequence given when it was first added.
 */
export class PostgresServerSubscriptionStore implements ServerSubscriptionStore {
  private readonly pool: PgPool;
  private readonly owns: boolean;

  constructor(o: { pool: PgPool; owns?: boolean }) {
    this.pool = o.pool;
    this.owns = o.owns ?? true;
  }

  async add(user: string, channel: string): Promise<void> {
    await this.pool.query('INSERT INTO sb_server_subscriptions ("user", channel) VALUES ($1, $2) ON CONFLICT DO NOTHING', [user, channel]);
  }

  async remove(user: string, channel: string): Promise<void> {
    await this.pool.query('DELETE FROM sb_server_subscriptions WHERE "user" = $1 AND channel = $2', [user, channel]);
  }

  async list(user: string, max: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ channel: string }>('SELECT channel FROM sb_server_subscriptions WHERE "user" = $1 ORDER BY seq LIMIT $2', [user, Math.max(0, max)]);
    return rows.map((r) => r.channel);
  }

  async close(): Promise<void> {
    if (this.owns) await endPool(this.pool);
  }
}
