import { afterAll, beforeAll, describe } from 'vitest';
import { runBrokerContract } from '../src/broker/broker.contract.ts';
import { MemoryBroker, MemoryBus } from '../src/broker/memory-broker.ts';
import { RedisBroker } from '../src/broker/redis-broker.ts';
import { connectRedis } from '../src/redis/connect.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';

describe('memory broker', () => {
  runBrokerContract({ create: (h) => new MemoryBroker(h), multiNode: false });
});

describe('memory brokers on one bus (several nodes in one process)', () => {
  const bus = new MemoryBus();
  runBrokerContract({ create: (h) => new MemoryBroker(h, { bus }), multiNode: true });
});

for (const sharded of [true, false]) {
  describe(sharded ? 'redis broker (sharded pub/sub on Redis 7)' : 'redis broker (plain pub/sub, as on Redis < 7)', () => {
    let redis: RedisProcess;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis.stop();
    });
    runBrokerContract({
      multiNode: true,
      async create(h) {
        const [publisher, subscriber] = await Promise.all([
          connectRedis({ url: redis.url, name: 'test:pub' }),
          connectRedis({ url: redis.url, name: 'test:sub' }),
        ]);
        // Redis here is 7.x, so plain pub/sub is exercised by turning sharding off.
        const b = sharded
          ? new RedisBroker(h, { publisher, subscriber })
          : new RedisBroker(h, { publisher: { ...publisher, sharded: false }, subscriber: { ...subscriber, sharded: false } });
        await b.ready;
        return b;
      },
    });
  });
}
