import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { migrate, transaction } from '../sqlite/database.ts';
import { DUE_WINDOW, outboxKey, type OutboxEntry, type WebhookEvent, type WebhookOutbox } from './webhook-outbox.ts';

const STEPS = [`
  CREATE TABLE sb_webhook_outbox (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    event    TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at  INTEGER NOT NULL
  );
`, `
  -- The ordering key (outboxKey): events of one channel or user are delivered in order.
  ALTER TABLE sb_webhook_outbox ADD COLUMN key TEXT NOT NULL DEFAULT '';
  UPDATE sb_webhook_outbox SET key = CASE
    WHEN json_extract(event, '$.channel') IS NOT NULL THEN 'c:' || json_extract(event, '$.channel')
    WHEN json_extract(event, '$.user') IS NOT NULL THEN 'u:' || json_extract(event, '$.user')
    ELSE '' END;
`];

/**
 * The selection of `due` (see `WebhookOutbox`) in SQL: among the oldest `DUE_WINDOW` rows, those
 * whose key has no later-due row before them (the running maximum of `next_at` over the key's
 * rows up to this one is due) and which are among the key's first `perKey`.
 */
const DUE_SQL = `
  WITH w AS (SELECT seq, id, key, event, attempts, next_at FROM sb_webhook_outbox ORDER BY seq LIMIT ${DUE_WINDOW}),
  r AS (SELECT *, row_number() OVER k AS rn, max(next_at) OVER k AS upto FROM w WINDOW k AS (PARTITION BY key ORDER BY seq))
  SELECT id, event, attempts, next_at FROM r WHERE upto <= ? AND rn <= ? ORDER BY seq LIMIT ?`;

/**
 * The webhook outbox in the gateway's SQLite file: an event is committed (WAL) before `add`
 * resolves, so a crash right after loses nothing. The caller owns the `DatabaseSync`.
 */
export class SqliteWebhookOutbox implements WebhookOutbox {
  private readonly db: DatabaseSync;
  private readonly insert: StatementSync;
  private readonly select: StatementSync;
  private readonly lease: StatementSync;
  private readonly del: StatementSync;
  private readonly update: StatementSync;
  private readonly count: StatementSync;

  constructor(db: DatabaseSync) {
    this.db = db;
    migrate(db, 'webhook_outbox', STEPS);
    this.insert = db.prepare('INSERT INTO sb_webhook_outbox (id, event, attempts, next_at, key) VALUES (?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING');
    this.select = db.prepare(DUE_SQL);
    this.lease = db.prepare('UPDATE sb_webhook_outbox SET next_at = ? WHERE id = ?');
    this.del = db.prepare('DELETE FROM sb_webhook_outbox WHERE id = ?');
    this.update = db.prepare('UPDATE sb_webhook_outbox SET attempts = ?, next_at = ? WHERE id = ?');
    this.count = db.prepare('SELECT COUNT(*) AS n FROM sb_webhook_outbox');
  }

  async add(event: WebhookEvent): Promise<void> {
    this.insert.run(event.id, JSON.stringify(event), event.ts, outboxKey(event));
  }

  async due(now: number, limit: number, leaseMs: number, perKey = 1): Promise<OutboxEntry[]> {
    const rows = transaction(this.db, () => {
      const picked = this.select.all(now, perKey, limit) as Array<{ id: string; event: string; attempts: number; next_at: number }>;
      for (const r of picked) this.lease.run(now + leaseMs, r.id);
      return picked;
    });
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
