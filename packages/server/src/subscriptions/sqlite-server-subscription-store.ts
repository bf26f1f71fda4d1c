import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { migrate } from '../sqlite/database.ts';
import type { ServerSubscriptionStore } from './server-subscription-store.ts';

const STEPS = [`
  CREATE TABLE sb_server_subscriptions (
    user       TEXT NOT NULL,
    channel    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (user, channel)
  ) WITHOUT ROWID;
  CREATE INDEX sb_server_subscriptions_order ON sb_server_subscriptions (user, seq);
`];

/**
 * Persistent server-side subscriptions in the gateway's SQLite file: they survive restarts.
 * The caller owns the `DatabaseSync`; `close()` does not close it.
 */
export class SqliteServerSubscriptionStore implements ServerSubscriptionStore {
  private readonly insert: StatementSync;
  private readonly del: StatementSync;
  private readonly select: StatementSync;
  private seq: number;

  constructor(db: DatabaseSync) {
    migrate(db, 'server_subscriptions', STEPS);
    this.insert = db.prepare('INSERT INTO sb_server_subscriptions (user, channel, seq) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
    this.del = db.prepare('DELETE FROM sb_server_subscriptions WHERE user = ? AND channel = ?');
    this.select = db.prepare('SELECT channel FROM sb_server_subscriptions WHERE user = ? ORDER BY seq LIMIT ?');
    const row = db.prepare('SELECT MAX(seq) AS m FROM sb_server_subscriptions').get() as { m: number | null };
    this.seq = Number(row.m ?? 0);
  }

  async add(user: string, channel: string): Promise<void> {
    this.insert.run(user, channel, ++this.seq);
  }

  async remove(user: string, channel: string): Promise<void> {
    this.del.run(user, channel);
  }

  async list(user: string, max: number): Promise<string[]> {
    return (this.select.all(user, max) as Array<{ channel: string }>).map((r) => r.channel);
  }

  async close(): Promise<void> {}
}
