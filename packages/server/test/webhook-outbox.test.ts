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
