import { endPool, type PgPool } from '../postgres/connect.ts';
import { DUE_WINDOW, type OutboxEntry, type WebhookEvent, type WebhookOutbox } from './webhook-outbox.ts';

/**
 * The webhook outbox in PostgreSQL, shared by every node (`sb_webhook_outbox`, ordered by
 * a sequence, with each event's ordering key in a generated column). `due` is one function call
 * that takes a lock first (`sb_webhook_due`: per key, the due entries from its oldest), so two
 * nodes asking at once never get the same entry, nor entries of one key out of order; what it answers is leased (its `next_at`
 * pushed `leaseMs` ahead), so a node killed while delivering only delays the event. An event
 * is committed before `add` resolves.
 */
export class PostgresWebhookOutbox implements WebhookOutbox {
  readonly shared = true;
  private readonly pool: PgPool;
  private readonly owns: boolean;

  constructor(o: { pool: PgPool; owns?: boolean }) {
    this.pool = o.pool;
    this.owns = o.owns ?? true;
  }

  async add(event: WebhookEvent): Promise<void> {
    await this.pool.query('INSERT INTO sb_webhook_outbox (id, event, next_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [event.id, JSON.stringify(event), event.ts]);
  }

  async due(now: number, limit: number, leaseMs: number, perKey = 1): Promise<OutboxEntry[]> {
    const { rows } = await this.pool.query<{ r_event: string; r_attempts: number; r_next_at: string }>(
      'SELECT r_event, r_attempts, r_next_at FROM sb_webhook_due($1, $2, $3, $4, $5)', [now, limit, now + leaseMs, perKey, DUE_WINDOW],
    );
    return rows.map((r) => ({ event: JSON.parse(r.r_event) as WebhookEvent, attempts: r.r_attempts, nextAt: Number(r.r_next_at) }));
  }

  async done(id: string): Promise<void> {
    await this.pool.query('DELETE FROM sb_webhook_outbox WHERE id = $1', [id]);
  }

  async retry(id: string, attempts: number, nextAt: number): Promise<void> {
    await this.pool.query('UPDATE sb_webhook_outbox SET attempts = $2, next_at = $3 WHERE id = $1', [id, attempts, nextAt]);
  }

  async size(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM sb_webhook_outbox');
    return Number(rows[0]!.n);
  }

  async close(): Promise<void> {
    if (this.owns) await endPool(this.pool);
  }
}
