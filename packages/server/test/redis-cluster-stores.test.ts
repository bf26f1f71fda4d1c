import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { runBrokerContract, RecordingHandler } from '../src/broker/broker.contract.ts';
import { RedisBroker } from '../src/broker/redis-broker.ts';
import { runHistoryStoreContract } from '../src/history/history.contract.ts';
import { RedisHistoryStore } from '../src/history/redis-history-store.ts';
import { runSessionStoreContract } from '../src/session/session.contract.ts';
import { RedisSessionStore } from '../src/session/redis-session-store.ts';
import { runPresenceStoreContract } from '../src/presence/presence.contract.ts';
import { RedisPresenceStore } from '../src/presence/redis-presence-store.ts';
import { runLoginRegistryContract } from '../src/session/login-registry.contract.ts';
import { RedisLoginRegistry } from '../src/session/redis-login-registry.ts';
import { RedisNodeDirectory } from '../src/cluster/redis-node-directory.ts';
import { runAccessStoreContract, START_MS } from '../src/access/access.contract.ts';
import { RedisAccessStore } from '../src/access/redis-access-store.ts';
import { connectRedis, type RedisConnection } from '../src/redis/connect.ts';
import { RedisKeys } from '../src/redis/keys.ts';
import { startRedisCluster, type RedisClusterProcess } from '../../../test/support/redis-cluster.ts';
import { waitFor } from '../../../test/support/ports.ts';

/**
 * Every Redis store and the broker against a real 3-primary Redis Cluster (one cluster for
 * the whole file): the same contract suites as on one Redis, so nothing sends a cross-slot
 * command or a MOVED error to the caller.
 */
let cluster: RedisClusterProcess;
const opened: RedisConnection[] = [];
beforeAll(async () => {
  cluster = await startRedisCluster(3);
}, 120_000);
afterAll(async () => {
  for (const c of opened) c.redis.disconnect();
  await cluster?.stop();
});

const fresh = () => new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
const conn = async () => {
  const c = await connectRedis({ url: cluster.url, name: 'test' });
  opened.push(c);
  return c;
};

describe('on a 3-primary Redis Cluster', () => {
  it('connects as a cluster and finds every primary', async () => {
    const c = await conn();
    expect(c.topology).toBe('cluster');
    expect(c.sharded).toBe(true);
    expect(c.redis.status).toBe('ready');
    expect((c.redis as unknown as { nodes(role: string): unknown[] }).nodes('master')).toHaveLength(3);
  });

  describe('broker', () => {
    // Brokers of one test are nodes of one deployment: one key prefix.
    const keys = fresh();
    runBrokerContract({
      multiNode: true,
      async create(h) {
        const b = new RedisBroker(h, { publisher: await conn(), subscriber: await conn(), keys });
        await b.ready;
        return b;
      },
    });
  });

  describe('history', () => {
    const prefixes = new WeakMap<RedisHistoryStore, RedisKeys>();
    const open = async (keys: RedisKeys, now: () => number) => {
      const store = new RedisHistoryStore({ connection: await conn(), keys, now });
      prefixes.set(store, keys);
      return store;
    };
    runHistoryStoreContract({
      create: (clock) => open(fresh(), clock.now),
      async reopen(store, clock) {
        const keys = prefixes.get(store as RedisHistoryStore)!;
        await store.close();
        return open(keys, clock.now);
      },
    });

    it('one turn of appends on 24 channels spread over the shards: one batched call per channel, each routed to its shard, each in call order', async () => {
      const store = await open(fresh(), Date.now);
      const channels = Array.from({ length: 24 }, (_, i) => `b:${i}`);
      const opts = { size: 1000, ttlMs: 3_600_000, dedupWindowMs: 60_000 };
      const calls = channels.flatMap((ch) => Array.from({ length: 20 }, (_, i) => ({ ch, i })));
      const results = await Promise.all(calls.map(({ ch, i }) => store.append(ch, { channel: ch, data: i, ts: Date.now() }, { ...opts, idempotencyKey: `${ch}-${i}` })));
      for (const ch of channels) {
        expect(results.filter((_, k) => calls[k]!.ch === ch).map((r) => r.offset)).toEqual(Array.from({ length: 20 }, (_, k) => k + 1));
        const read = await store.read(ch, { since: undefined, limit: 100, retention: opts });
        expect(read.publications.map((p) => p.data)).toEqual(Array.from({ length: 20 }, (_, k) => k));
      }
    });
  });

  runSessionStoreContract({
    name: 'redis cluster',
    async create() {
      let t = 1_767_225_600_000;
      const store = new RedisSessionStore({ connection: await conn(), keys: fresh(), now: () => t });
      return { store, advance: (ms: number) => void (t += ms) };
    },
  });
  runPresenceStoreContract({ name: 'redis cluster', create: async () => new RedisPresenceStore({ connection: await conn(), keys: fresh() }) });
  runLoginRegistryContract({ name: 'redis cluster', create: async () => new RedisLoginRegistry({ connection: await conn(), keys: fresh() }) });

  runAccessStoreContract({
    name: 'redis cluster',
    async create() {
      let t = START_MS;
      const store = new RedisAccessStore({ connection: await conn(), keys: fresh(), now: () => t });
      return { store, advance: (ms: number) => void (t += ms) };
    },
  });

  it('refreshes presence and login entries spread over every shard (no cross-slot pipeline)', async () => {
    const keys = fresh();
    const opts = { keys, entryTtlMs: 400, refreshMs: 100 };
    const presence = new RedisPresenceStore({ connection: await conn(), ...opts });
    const logins = new RedisLoginRegistry({ connection: await conn(), ...opts });
    const channels = Array.from({ length: 12 }, (_, i) => `chat:spread-${i}`);
    try {
      for (const [i, ch] of channels.entries()) {
        await presence.add(ch, { client: `c${i}`, user: `u${i}` });
        await presence.userUp(`u${i}`, `c${i}`);
        await logins.acquire('', `u${i}`, `l${i}`, `c${i}`, { maxPerUser: 1, onLimit: 'reject_new' });
      }
      // Well past the entry ttl: only the refresher keeps them.
      const until = Date.now() + 1500;
      await waitFor(() => Date.now() > until, 5000);
      for (const [i, ch] of channels.entries()) {
        expect(Object.keys(await presence.get(ch))).toEqual([`u${i}`]);
        expect(await logins.logins('', `u${i}`)).toEqual([`l${i}`]);
      }
    } finally {
      await presence.close();
      await logins.close();
    }
  });

  it("node directory: lists every node and sums their channels' subscribers", async () => {
    const keys = fresh();
    const a = new RedisNodeDirectory({
      connection: await conn(), keys, channelsIntervalMs: 50,
      self: () => ({ id: 'node-a', name: 'a', pid: 1, uptimeMs: 1, connections: 0, clients: 0, channels: 0 } as never),
      channels: () => [['chat:x', 2], ['chat:y', 1]],
    });
    const b = new RedisNodeDirectory({
      connection: await conn(), keys, channelsIntervalMs: 50,
      self: () => ({ id: 'node-b', name: 'b', pid: 2, uptimeMs: 1, connections: 0, clients: 0, channels: 0 } as never),
      channels: () => [['chat:x', 3], ['chat:z', 4]],
    });
    try {
      await waitFor(async () => (await a.nodes()).length === 2, 10_000, 'both nodes listed');
      const counts = await waitFor(async () => {
        const m = await a.channels();
        return m.get('chat:x') === 5 && m.get('chat:z') === 4 ? m : undefined;
      }, 10_000, 'channels of both nodes');
      expect(Object.fromEntries(counts)).toEqual({ 'chat:x': 5, 'chat:y': 1, 'chat:z': 4 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("spreads channels over every shard: each channel's keys and shard channel in one slot", async () => {
    const keys = new RedisKeys();
    const c = await conn();
    const slotOf = async (key: string) => Number(await c.redis.call('CLUSTER', 'KEYSLOT', key));
    const primaries = new Set<string>();
    const ranges = (await c.redis.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    for (let i = 0; i < 24; i++) {
      const ch = `chat:room-${i}`;
      const slot = await slotOf(keys.meta(ch));
      for (const k of [keys.stream(ch), keys.idempotency(ch, 'n:1'), keys.claim(ch, 'n:1'), keys.pubsub(ch), keys.presence(ch), keys.presenceMembers(ch)]) {
        expect(await slotOf(k)).toBe(slot);
      }
      const owner = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)!;
      primaries.add(`${owner[2][0]}:${owner[2][1]}`);
    }
    expect(primaries.size).toBe(3);
  });

  it('control messages still arrive after every channel on every shard was unsubscribed', async () => {
    const keys = fresh();
    const h = new RecordingHandler();
    const broker = new RedisBroker(h, { publisher: await conn(), subscriber: await conn(), keys });
    const other = new RedisBroker(new RecordingHandler(), { publisher: await conn(), subscriber: await conn(), keys });
    await Promise.all([broker.ready, other.ready]);
    const channels = Array.from({ length: 9 }, (_, i) => `chat:ctl-${i}`);
    for (const ch of channels) await broker.subscribe(ch);
    for (const ch of channels) await broker.unsubscribe(ch);
    await other.publishControl({ type: 'user_event', event: 'online', user: 'after' });
    await waitFor(() => h.controls.some((m) => m.type === 'user_event' && m.user === 'after'), 10_000, 'the control message');
    await Promise.all([broker.close(), other.close()]);
  });

  it('a publication crosses only its shard: SPUBLISH reaches the subscriber through the primary that owns the slot', async () => {
    const h = new RecordingHandler();
    const keys = fresh();
    const broker = new RedisBroker(h, { publisher: await conn(), subscriber: await conn(), keys });
    await broker.ready;
    const channels = Array.from({ length: 9 }, (_, i) => `chat:shard-${i}`);
    for (const ch of channels) await broker.subscribe(ch);
    for (const [i, ch] of channels.entries()) await broker.publish(ch, { channel: ch, data: i, ts: 1, offset: 1, epoch: 'e' });
    await waitFor(() => h.publications.length === channels.length, 10_000, 'every publication');
    expect(h.publications.map((p) => p.channel).sort()).toEqual([...channels].sort());
    // Each shard's primary counts only the shard channels of its own slots.
    let total = 0;
    for (const n of cluster.nodes) {
      const r = new Redis({ port: n.port, host: '127.0.0.1' });
      try {
        const own = (await r.call('PUBSUB', 'SHARDNUMSUB', ...channels.map((ch) => keys.pubsub(ch)))) as Array<string | number>;
        for (let i = 1; i < own.length; i += 2) total += Number(own[i]);
      } finally {
        r.disconnect();
      }
    }
    expect(total).toBe(channels.length);
    await broker.close();
  });
});
