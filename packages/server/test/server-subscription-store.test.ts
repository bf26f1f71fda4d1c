import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { runServerSubscriptionContract } from '../src/subscriptions/server-subscription.contract.ts';
import { MemoryServerSubscriptionStore } from '../src/subscriptions/server-subscription-store.ts';
import { SqliteServerSubscriptionStore } from '../src/subscriptions/sqlite-server-subscription-store.ts';
import { RedisServerSubscriptionStore } from '../src/subscriptions/redis-server-subscription-store.ts';
import { openSqlite } from '../src/sqlite/database.ts';
import { connectRedis } from '../src/redis/connect.ts';
import { RedisKeys } from '../src/redis/keys.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';

runServerSubscriptionContract({ name: 'memory', durable: false, create: () => ({ store: new MemoryServerSubscriptionStore() }) });

runServerSubscriptionContract({
  name: 'sqlite',
  durable: true,
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'sb-ssubs-'));
    const path = join(dir, 'subs.db');
    let db = openSqlite(path);
    return {
      store: new SqliteServerSubscriptionStore(db),
      async reopen() {
        db.close();
        db = openSqlite(path);
        return new SqliteServerSubscriptionStore(db);
      },
      dispose: () => { db.close(); rmSync(dir, { recursive: true, force: true }); },
    };
  },
});

describe('RedisServerSubscriptionStore', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  runServerSubscriptionContract({
    name: 'redis',
    durable: true,
    async create() {
      const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
      const open = async () => new RedisServerSubscriptionStore({ connection: await connectRedis({ url: redis.url, name: 'test:subs' }), keys });
      const stores = [await open()];
      return {
        store: stores[0]!,
        reopen: async () => { const s = await open(); stores.push(s); return s; },
        dispose: async () => { for (const s of stores) await s.close(); },
      };
    },
  });
});
