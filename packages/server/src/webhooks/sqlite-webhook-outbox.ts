import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { migrate } from '../sqlite/database.ts';
import type { OutboxEntry, WebhookEvent, WebhookOutbox } from './webhook-outbox.ts';

const STEPS = [`
  CREATE TABLE sb_webhook_outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    event    TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at  INTEGER NOT NULL
  );
`];

/**
 * The webhook outbox in the gateway's SQLite file: an event is committed (WAL) before `add`
 * resolves, so a crash right after loses nothing. The caller owns the `DatabaseSync`.
 */
export class SqliteWebhookOutbox implements WebhookOutbox {
  private readonly insert: StatementSync;
  private readonly select: StatementSync;
  private readonly lease: StatementSync;
  private readonly del: StatementSync;
  private readonly update: StatementSync;
  private readonly count: StatementSync;

  constructor(db: DatabaseSync) {
    migrate(db, 'webhook_outbox', STEPS);
    this.insert = db.prepare('INSERT INTO sb_webhook_outbox (id, event, attempts, next_at) VALUES (?, ?, 0, ?) ON CONFLICT (id) DO NOTHING');
    this.select = db.prepare('SELECT id, event, attempts, next_at FROM sb_webhook_outbox ORDER BY seq LIMIT ?');
    this.lease = db.prepare('UPDATE sb_webhook_outbox SET next_at = ? WHERE id = ?');
    this.del = db.prepare('DELETE FROM sb_webhook_outbox WHERE id = ?');
    this.update = db.prepare('UPDATE sb_webhook_outbox SET attempts = ?, next_at = ? WHERE id = ?');
    this.count = db.prepare('SELECT COUNT(*) AS n FROM sb_webhook_outbox');
  }

  async add(event: WebhookEvent): Promise<void> {
    this.insert.run(event.id, JSON.stringify(event), event.ts);
  }

  async due(now: number, limit: number, leaseMs: number): Promise<OutboxEntry[]> {
    const head = this.select.all(limit) as Array<{ id: string; event: string; attempts: number; next_at: number }>;
    const stop = head.findIndex((r) => Number(r.next_at) > now);
    const rows = stop === -1 ? head : head.slice(0, stop);
    for (const r of rows) this.lease.run(now + leaseMs, r.id);
    return rows.map((r) => ({ event: JSON.parse(r.event) as WebhookEvent, attempts: Number(r.attempts), nextAt: Number(r.next_at) }));
  }

  async done(id: string): Promise<void> {
    this.del.run(id);
  }

  async retry(id: string, attempts: number, nextAt: number): Promise<void> {
    this.update.run(attempts, nextAt, id);
  }

  async size(): Promise<number> {
    return Number((this.count.get() as { n: number }).n);
  }

  async close(): Promise<void> {}
}
