import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExpiryRefresher } from '../src/redis/refresher.ts';
import { RedisChannelIndex } from '../src/cluster/redis-channel-index.ts';
import { connectRedis, type RedisConnection } from '../src/redis/connect.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';
import { waitFor } from '../../../test/support/ports.ts';

/**
 * What an idle cluster-mode node does each interval, against a real redis-server: the expiry
 * refresher pushes hundreds of keys per script call (one Redis server), and the channel index
 * builds no snapshot while nothing changed. Both were most of an idle gateway's allocation
 * (its heap and RSS climbed while idle; see docs/performance.md).
 */
let redis: RedisProcess;
const opened: RedisConnection[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of opened) c.redis.disconnect();
  await redis.stop();
});
const conn = async () => {
  const c = await connectRedis({ url: redis.url, name: 'test:idle' });
  opened.push(c);
  return c;
};

describe('expiry refresher on one Redis server', () => {
  it('pushes every owned entry forward (hundreds of keys, a key with thousands of members, companions) and never recreates a removed one', async () => {
    const { redis: r } = await conn();
    const refresher = new ExpiryRefresher({ redis: r, ttlMs: 60_000, intervalMs: 3_600_000 });
    const old = Date.now() - 1000;
    // 700 keys of two members, each with a companion; one key of 3,000 members.
    for (let i = 0; i < 700; i++) {
      await r.zadd(`idle:k${i}`, old, 'a', old, 'b');
      await r.hset(`idle:c${i}`, 'x', '1');
      await r.pexpire(`idle:c${i}`, 5000);
      refresher.track(`idle:k${i}`, 'a', [`idle:c${i}`]);
      refresher.track(`idle:k${i}`, 'b', [`idle:c${i}`]);
    }
    const many = Array.from({ length: 3000 }, (_, i) => `m${i}`);
    await r.zadd('idle:big', ...many.flatMap((m) => [String(old), m]));
    for (const m of many) refresher.track('idle:big', m);
    // Another node removed this entry: the refresh must not bring it back.
    refresher.track('idle:k0', 'gone', ['idle:c0']);
    const before = Date.now();
    await refresher.refresh();
    for (const i of [0, 1, 350, 699]) {
      for (const m of ['a', 'b']) expect(Number(await r.zscore(`idle:k${i}`, m)), `k${i} ${m}`).toBeGreaterThanOrEqual(before + 60_000);
      expect(await r.pttl(`idle:k${i}`)).toBeGreaterThan(60_000);
      expect(await r.pttl(`idle:c${i}`), `companion c${i}`).toBeGreaterThan(60_000);
    }
    expect(await r.zscore('idle:k0', 'gone')).toBeNull();
    const scores = ((await r.call('ZRANGE', 'idle:big', 0, -1, 'WITHSCORES')) as unknown[]).flat() as string[];
    expect(scores.length).toBe(6000);
    for (let i = 1; i < scores.length; i += 2) expect(Number(scores[i])).toBeGreaterThanOrEqual(before + 60_000);
    refresher.stop();
  });
});

describe('expiry refresher with other commands in flight', () => {
  it('refreshes on its first interval while an auto-pipelined batch of other commands is open on the same client', async () => {
    const { redis: r } = await conn();
    const old = Date.now() - 1000;
    await r.zadd('idle:busy', old, 'a');
    const refresher = new ExpiryRefresher({ redis: r, ttlMs: 60_000, intervalMs: 3_600_000 });
    refresher.track('idle:busy', 'a');
    const busy = Array.from({ length: 50 }, (_, i) => r.get(`idle:none${i}`));
    const before = Date.now();
    await refresher.refresh();
    await Promise.all(busy);
    expect(Number(await r.zscore('idle:busy', 'a'))).toBeGreaterThanOrEqual(before + 60_000);
    refresher.stop();
  });
});

describe('channel index', () => {
  it('builds no snapshot while the version stays the same, writes changes when it moves, and rewrites a hash Redis lost', async () => {
    const { redis: r } = await conn();
    let version = 1;
    let reads = 0;
    let channels: Array<[string, number]> = [['chat:a', 2], ['chat:b', 1]];
    const index = new RedisChannelIndex({
      redis: r, key: 'idle:index', intervalMs: 3_600_000, ttlMs: 60_000,
      local: () => {
        reads++;
        return channels;
      },
      version: () => version,
    });
    try {
      await index.flush();
      expect(await r.hgetall('idle:index')).toEqual({ 'chat:a': '2', 'chat:b': '1' });
      expect(reads).toBe(1);
      // Idle: no snapshot, only the expiry pushed forward.
      await r.pexpire('idle:index', 10_000);
      for (let i = 0; i < 5; i++) await index.flush();
      expect(reads).toBe(1);
      expect(await r.pttl('idle:index')).toBeGreaterThan(10_000);
      // A change: the diff is written.
      channels = [['chat:a', 3], ['chat:c', 1]];
      version++;
      await index.flush();
      expect(reads).toBe(2);
      expect(await r.hgetall('idle:index')).toEqual({ 'chat:a': '3', 'chat:c': '1' });
      // Redis lost the hash (restart, outage past its ttl): the next flush rewrites it whole, unchanged version or not.
      await r.del('idle:index');
      await index.flush();
      await waitFor(async () => (await r.hlen('idle:index')) === 2, 10_000, 'hash rewritten');
      expect(await r.hgetall('idle:index')).toEqual({ 'chat:a': '3', 'chat:c': '1' });
    } finally {
      await index.close();
    }
  });
});
