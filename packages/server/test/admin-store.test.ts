import { afterAll, beforeAll, describe } from 'vitest';
import { runAdminStoreContract } from '../src/admin/admin-store.contract.ts';
import { MemoryAdminStore } from '../src/admin/memory-admin-store.ts';
import { RedisAdminStore } from '../src/admin/redis-admin-store.ts';
import { connectRedis } from '../src/redis/connect.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';

describe('memory admin store', () => {
  runAdminStoreContract({ create: () => new MemoryAdminStore(), shared: false });
});

describe('redis admin store', () => {
  let redis: RedisProcess;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  runAdminStoreContract({
    shared: true,
    create: async () => new RedisAdminStore({ connection: await connectRedis({ url: redis.url, name: 'test:admin' }) }),
  });
});
