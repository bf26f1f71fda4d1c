import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { migrate, transaction } from '../sqlite/database.ts';
import { DUE_WINDOW, outboxKey, pickDue, type OutboxEntry, type WebhookEvent, type WebhookOutbox } from './webhook-outbox.ts';

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
 * The webhook outbox in the gateway's SQLite file: an event is committed (WAL) before `add`
 * resolves, so a crash right after loses nothing. The caller owns the `DatabaseSync`.
 */
export class SqliteWebhookOutbox implements WebhookOutbox {
  private readonly db: DatabaseSync;
  private readonly insert: StatementSync;
  private readonly select: StatementSync;
  private readonly read: StatementSync;
  private readonly lease: StatementSync;
  private readonly del: StatementSync;
  private readonly update: StatementSync;
  private readonly count: StatementSync;

  constructor(db: DatabaseSync) {
    this.db = db;
    migrate(db, 'webhook_outbox', STEPS);
    this.insert = db.prepare('INSERT INTO sb_webhook_outbox (id, event, attempts, next_at, key) VALUES (?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING');
    // The oldest rows' order fields; `pickDue` chooses among them, then the chosen are read whole.
    this.select = db.prepare(`SELECT seq, key, next_at FROM sb_webhook_outbox ORDER BY seq LIMIT ${DUE_WINDOW}`);
    this.read = db.prepare('SELECT id, event, attempts, next_at FROM sb_webhook_outbox WHERE seq = ?');
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
      this.select.setReturnArrays(true);
      const heads = this.select.iterate() as unknown as Iterable<[number, string, number]>;
      const picked = pickDue(heads, { now, limit, perKey, key: (r) => r[1], nextAt: (r) => Number(r[2]) });
      return picked.map(([seq]) => {
        const r = this.read.get(seq) as { id: string; event: string; attempts: number; next_at: number };
        this.lease.run(now + leaseMs, r.id);
        return r;
      });
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
