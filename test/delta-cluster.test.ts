import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { waitFor } from './support/ports.ts';
import { documentAt } from './support/documents.ts';
import { RawClient, connectAuthed, startGateway, token } from '../packages/server/test/helpers.ts';
import { closeClients, makeClient } from '../packages/client/test/helpers.ts';
import { deltaStats } from '../packages/server/src/delta/channel-delta.ts';
import type { Publication } from '../packages/client/src/index.ts';

/**
 * Delta compression in cluster mode: two gateways on one real redis-server. Publications
 * reach each node through Redis; each node computes the channel's deltas itself, once per
 * publication, against the previous publication it delivered.
 */
const OPEN = { allowSubscribe: true, allowPublish: true };
const NAMESPACES = {
  doc: { ...OPEN, delta: 'fossil' as const, history: { size: 1000, ttl: '1h' } },
  live: { ...OPEN, delta: 'fossil' as const },
};

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let redis: RedisProcess;
let nodes: Gateway[];

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all([0, 1].map(() => startGateway({ redis: redis.url, storage: 'redis', namespaces: NAMESPACES })));
}, 60_000);
afterEach(() => closeClients());
afterAll(async () => {
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await redis?.stop();
});

const messagesOf = (c: RawClient, channel: string) => c.frames.filter((f) => f.type === 'message' && f.channel === channel);

describe('delta compression in cluster mode', () => {
  for (const channel of ['doc:cluster', 'live:cluster']) {
    it(`${channel}: publications from both nodes reach delta and plain subscribers on both nodes with identical data, as deltas after the first`, async () => {
      const readers = await Promise.all([0, 1, 1].map(async (i, k) => {
        const client = makeClient(nodes[i]!.wsUrl, { token: await token(`reader-${k}`) });
        const sub = client.subscribe(channel, k === 2 ? {} : { delta: 'fossil' });
        const got: Publication[] = [];
        sub.on('message', (m) => got.push(m));
        await sub.ready();
        return { sub, got };
      }));
      expect(readers.map((r) => r.sub.delta)).toEqual([true, true, false]);
      const raws = await Promise.all(nodes.map((n, i) => connectAuthed(n.wsUrl, `raw-${i}`)));
      for (const raw of raws) expect(await raw.request({ type: 'subscribe', channel, delta: 'fossil' })).toMatchObject({ type: 'ack', delta: true });
      const writers = await Promise.all(nodes.map(async (n, i) => makeClient(n.wsUrl, { token: await token(`writer-${i}`) })));
      deltaStats.computed = 0;

      for (let n = 1; n <= 100; n++) await writers[n % 2]!.publish(channel, documentAt(n));
      await waitFor(() => readers.every((r) => r.got.length === 100) && raws.every((r) => messagesOf(r, channel).length === 100), 30_000, '100 messages everywhere');

      const expected = Array.from({ length: 100 }, (_, i) => documentAt(i + 1));
      for (const r of readers) expect(r.got.map((m) => m.data)).toEqual(expected);
      for (const raw of raws) {
        const frames = messagesOf(raw, channel);
        expect(frames[0].delta).toBeUndefined();
        expect(frames.slice(1).every((f) => f.delta === true)).toBe(true);
      }
      // Once per publication on each of the two nodes, however many delta subscribers each has.
      expect(deltaStats.computed).toBe(2 * 99);
      for (const raw of raws) raw.close();
    }, 60_000);
  }
});
