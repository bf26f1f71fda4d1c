import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { runAccessStoreContract, START_MS } from '../src/access/access.contract.ts';
import { MemoryAccessStore } from '../src/access/memory-access-store.ts';
import { SqliteAccessStore } from '../src/access/sqlite-access-store.ts';
import { RedisAccessStore } from '../src/access/redis-access-store.ts';
import { openSqlite } from '../src/sqlite/database.ts';
import { connectRedis } from '../src/redis/connect.ts';
import { RedisKeys } from '../src/redis/keys.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';

function clock() {
  let t = START_MS;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

runAccessStoreContract({
  name: 'memory',
  create() {
    const c = clock();
    return { store: new MemoryAccessStore({ now: c.now }), advance: c.advance };
  },
});

runAccessStoreContract({
  name: 'sqlite',
  create() {
    const c = clock();
    const dir = mkdtempSync(join(tmpdir(), 'sb-access-'));
    const db = openSqlite(join(dir, 'access.db'));
    return {
      store: new SqliteAccessStore(db, { now: c.now }),
      advance: c.advance,
      dispose: () => { db.close(); rmSync(dir, { recursive: true, force: true }); },
    };
  },
});

describe('RedisAccessStore', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  runAccessStoreContract({
    name: 'redis',
    async create() {
      const c = clock();
      const store = new RedisAccessStore({
        connection: await connectRedis({ url: redis.url, name: 'test:access' }),
        keys: new RedisKeys(`t${randomBytes(4).toString('hex')}:`),
        now: c.now,
      });
      return { store, advance: c.advance };
    },
  });
});
