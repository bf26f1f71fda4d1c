import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runHistoryStoreContract } from '../src/history/history.contract.ts';
import { RedisHistoryStore } from '../src/history/redis-history-store.ts';
import { connectRedis } from '../src/redis/connect.ts';
import { RedisKeys } from '../src/redis/keys.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';
import { waitFor } from '../../../test/support/ports.ts';

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
  const open = async (keys: RedisKeys, now: () => number, batch?: boolean) => {
    const store = new RedisHistoryStore({ connection: await connectRedis({ url: redis.url, name: 'test:history' }), keys, now, ...(batch === undefined ? {} : { batch }) });
    prefixes.set(store, keys);
    return store;
  };
  for (const batch of [true, false]) {
    describe(batch ? 'appends of one turn batched per channel (default)' : 'one script per append (batch: false)', () => {
      runHistoryStoreContract({
        create: (clock) => open(new RedisKeys(`t${randomBytes(4).toString('hex')}:`), clock.now, batch),
        async reopen(store, clock) {
          const keys = prefixes.get(store as RedisHistoryStore)!;
          await store.close();
          return open(keys, clock.now, batch);
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
  }

  it('one turn of appends over several channels: each channel in call order, a key repeated within the batch is its duplicate, publications published in offset order', async () => {
    const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
    const connection = await connectRedis({ url: redis.url, name: 'test:history-batch' });
    const store = new RedisHistoryStore({ connection, keys, publish: true });
    const sub = new Redis(redis.url);
    const heard = new Map<string, number[]>();
    sub.on('smessage', (ch: string, msg: string) => heard.set(ch, [...(heard.get(ch) ?? []), JSON.parse(msg).offset]));
    try {
      const channels = ['b:one', 'b:two', 'b:three'];
      for (const ch of channels) await sub.ssubscribe(keys.pubsub(ch));
      const opts = (id: string) => ({ size: 1000, ttlMs: 3_600_000, dedupWindowMs: 60_000, idempotencyKey: id, publisher: 'u:x' });
      // 150 per channel: more than one call's worth (64), all issued in one turn.
      const calls = channels.flatMap((ch) => Array.from({ length: 150 }, (_, i) => ({ ch, i, id: i === 7 ? 'k3' : `k${i}` })));
      const results = await Promise.all(calls.map(({ ch, i, id }) => store.appendAndPublish!(ch, { channel: ch, data: i, ts: Date.now() }, opts(id))));
      for (const ch of channels) {
        const mine = results.filter((_, k) => calls[k]!.ch === ch);
        // i = 7 repeats i = 3's key: the duplicate of offset 4, nothing stored.
        expect(mine[7]).toEqual({ epoch: mine[0]!.epoch, offset: 4, duplicate: true });
        const stored = mine.filter((r) => !r.duplicate);
        expect(stored.map((r) => r.offset)).toEqual(Array.from({ length: 149 }, (_, k) => k + 1));
        expect(new Set(mine.map((r) => r.epoch)).size).toBe(1);
        const read = await store.read(ch, { since: undefined, limit: 1000, retention: { size: 1000, ttlMs: 3_600_000 } });
        expect(read.publications.map((p) => p.data)).toEqual(Array.from({ length: 150 }, (_, i) => i).filter((i) => i !== 7));
      }
      await waitFor(() => channels.every((ch) => heard.get(keys.pubsub(ch))?.length === 149), 10_000, 'every publication published');
      for (const ch of channels) expect(heard.get(keys.pubsub(ch))).toEqual(Array.from({ length: 149 }, (_, k) => k + 1));
    } finally {
      sub.disconnect();
      await store.close();
    }
  });
});
