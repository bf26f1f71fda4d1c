import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPresenceStoreContract } from '../src/presence/presence.contract.ts';
import { RedisPresenceStore } from '../src/presence/redis-presence-store.ts';
import { runLoginRegistryContract } from '../src/session/login-registry.contract.ts';
import { RedisLoginRegistry } from '../src/session/redis-login-registry.ts';
import { connectRedis } from '../src/redis/connect.ts';
import { RedisKeys } from '../src/redis/keys.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';
import { waitFor } from '../../../test/support/ports.ts';

let redis: RedisProcess;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});
const fresh = () => new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
const conn = () => connectRedis({ url: redis.url, name: 'test' });

describe('Redis presence and login registry', () => {
  runPresenceStoreContract({ name: 'redis', create: async () => new RedisPresenceStore({ connection: await conn(), keys: fresh() }) });
  runLoginRegistryContract({ name: 'redis', create: async () => new RedisLoginRegistry({ connection: await conn(), keys: fresh() }) });

  it("a dead node's presence, online users and logins expire; survivors keep theirs and settle the dead ones offline", async () => {
    const keys = fresh();
    const opts = { keys, entryTtlMs: 300, refreshMs: 100 };
    const offline: string[] = [];
    const alive = new RedisPresenceStore({ connection: await conn(), ...opts, onUserExpired: (u) => offline.push(u) });
    const dead = new RedisPresenceStore({ connection: await conn(), ...opts });
    const aliveLogins = new RedisLoginRegistry({ connection: await conn(), ...opts });
    const deadLogins = new RedisLoginRegistry({ connection: await conn(), ...opts });
    try {
      await alive.add('chat:a', { client: 'c1', user: 'alice' });
      await dead.add('chat:a', { client: 'c2', user: 'bob' });
      expect(await alive.userUp('alice', 'c1')).toBe(true);
      expect(await dead.userUp('bob', 'c2')).toBe(true);
      const one = { maxPerUser: 1, onLimit: 'reject_new' } as const;
      await aliveLogins.acquire('*', 'alice', 'A', 'c1', one);
      await deadLogins.acquire('*', 'bob', 'B', 'c2', one);
      expect(await aliveLogins.acquire('*', 'bob', 'B2', 'c3', one)).toEqual({ admitted: false, live: 1 });
      // The "dead" node stops refreshing (its process would be gone); its Redis connection
      // stays open here only so the test can close it afterwards.
      (dead as any).refresher.stop();
      (deadLogins as any).refresher.stop();
      clearInterval((dead as any).sweeper);
      await waitFor(() => offline.includes('bob'), 5000, 'bob settled offline by the surviving node');
      expect(Object.keys(await alive.get('chat:a'))).toEqual(['alice']);
      expect(await aliveLogins.logins('*', 'alice')).toEqual(['A']);
      expect(await aliveLogins.logins('*', 'bob')).toEqual([]);
      expect(await aliveLogins.acquire('*', 'bob', 'B2', 'c3', one)).toEqual({ admitted: true, evicted: [] });
      expect(offline).toEqual(['bob']);
      expect(await alive.userUp('alice', 'c9')).toBe(false);
    } finally {
      for (const s of [alive, dead, aliveLogins, deadLogins]) await s.close();
    }
  });
});
