import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { runHistoryStoreContract } from '../src/history/history.contract.ts';
import { RedisHistoryStore } from '../src/history/redis-history-store.ts';
import { connectRedis } from '../src/redis/connect.ts';
import { RedisKeys } from '../src/redis/keys.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';

describe('RedisHistoryStore', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  // Each store gets its own key prefix: a fresh, empty store on the shared server.
  const prefixes = new WeakMap<RedisHistoryStore, RedisKeys>();
  const open = async (keys: RedisKeys, now: () => number) => {
    const store = new RedisHistoryStore({ connection: await connectRedis({ url: redis.url, name: 'test:history' }), keys, now });
    prefixes.set(store, keys);
    return store;
  };
  runHistoryStoreContract({
    create: (clock) => open(new RedisKeys(`t${randomBytes(4).toString('hex')}:`), clock.now),
    async reopen(store, clock) {
      const keys = prefixes.get(store as RedisHistoryStore)!;
      await store.close();
      return open(keys, clock.now);
    },
    async stored(store) {
      const r = new Redis(redis.url);
      try {
        return (await r.keys(`${prefixes.get(store as RedisHistoryStore)!.prefix}*`)).length;
      } finally {
        r.disconnect();
      }
    },
  });
});
