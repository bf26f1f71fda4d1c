import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWebhookOutboxContract } from '../src/webhooks/webhook-outbox.contract.ts';
import { MemoryWebhookOutbox } from '../src/webhooks/webhook-outbox.ts';
import { SqliteWebhookOutbox } from '../src/webhooks/sqlite-webhook-outbox.ts';
import { openSqlite } from '../src/sqlite/database.ts';

runWebhookOutboxContract({ name: 'memory', durable: false, create: () => ({ outbox: new MemoryWebhookOutbox() }) });

runWebhookOutboxContract({
  name: 'sqlite',
  durable: true,
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'sb-outbox-'));
    const path = join(dir, 'o.db');
    let db = openSqlite(path);
    return {
      outbox: new SqliteWebhookOutbox(db),
      async reopen() {
        db.close();
        db = openSqlite(path);
        return new SqliteWebhookOutbox(db);
      },
      dispose: () => { db.close(); rmSync(dir, { recursive: true, force: true }); },
    };
  },
});

describe('SQLite outbox written before ordering keys', () => {
  it('gets each waiting event its key from the event when the schema moves on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-outbox-'));
    const db = openSqlite(join(dir, 'o.db'));
    try {
      // The first schema step as an earlier version left it, with two events of one channel and one of a user.
      db.exec(`CREATE TABLE IF NOT EXISTS sb_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
        CREATE TABLE sb_webhook_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, event TEXT NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL);
        INSERT INTO sb_schema (component, version) VALUES ('webhook_outbox', 1)`);
      const ins = db.prepare('INSERT INTO sb_webhook_outbox (id, event, attempts, next_at) VALUES (?, ?, 0, 1000)');
      ins.run('e1', JSON.stringify({ id: 'e1', type: 'channel.occupied', ts: 1000, channel: 'chat:a' }));
      ins.run('e2', JSON.stringify({ id: 'e2', type: 'channel.vacated', ts: 1000, channel: 'chat:a' }));
      ins.run('e3', JSON.stringify({ id: 'e3', type: 'user.online', ts: 1000, user: 'alice' }));
      const outbox = new SqliteWebhookOutbox(db);
      expect((await outbox.due(2000, 10, 100)).map((e) => e.event.id)).toEqual(['e1', 'e3']);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
