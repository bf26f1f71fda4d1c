import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe } from 'vitest';
import { runSessionStoreContract } from '../src/session/session.contract.ts';
import { RedisSessionStore } from '../src/session/redis-session-store.ts';
import { connectRedis } from '../src/redis/connect.ts';
import { RedisKeys } from '../src/redis/keys.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';

describe('RedisSessionStore', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  runSessionStoreContract({
    name: 'redis',
    async create() {
      let t = 1_767_225_600_000;
      const store = new RedisSessionStore({
        connection: await connectRedis({ url: redis.url, name: 'test:sessions' }),
        keys: new RedisKeys(`t${randomBytes(4).toString('hex')}:`),
        now: () => t,
      });
      return { store, advance: (ms: number) => void (t += ms) };
    },
  });
});
