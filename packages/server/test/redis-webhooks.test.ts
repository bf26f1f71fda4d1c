import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runWebhookOutboxContract } from '../src/webhooks/webhook-outbox.contract.ts';
import { RedisWebhookOutbox } from '../src/webhooks/redis-webhook-outbox.ts';
import { RedisChannelOccupancy } from '../src/webhooks/redis-channel-occupancy.ts';
import type { ChannelEventFor } from '../src/webhooks/channel-occupancy.ts';
import { newWebhookEvent } from '../src/webhooks/webhook-outbox.ts';
import { connectRedis, type RedisConnection } from '../src/redis/connect.ts';
import { RedisKeys } from '../src/redis/keys.ts';
import { Webhooks } from '../src/webhooks/webhooks.ts';
import { createLogger } from '../src/logger.ts';
import { WebhookReceiver } from './webhook-receiver.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';
import { startRedisCluster } from '../../../test/support/redis-cluster.ts';
import { waitFor } from '../../../test/support/ports.ts';

/**
 * The Redis webhook outbox (the WebhookOutbox contract, shared by several nodes) and the
 * cluster-wide channel occupancy, on a real redis-server and on a real 3-primary Redis
 * Cluster (every key in the `{webhooks}` slot: no cross-slot error).
 */
const eventFor: ChannelEventFor = (type, channel) => newWebhookEvent(type, { channel });

for (const topology of ['redis-server', '3-primary Redis Cluster'] as const) {
  describe(`webhooks on a ${topology}`, { timeout: 120_000 }, () => {
    let url = '';
    let stop: () => Promise<void> = async () => {};
    let single: RedisProcess | undefined;
    const opened: RedisConnection[] = [];
    const conn = async () => {
      const c = await connectRedis({ url, name: 'test:webhooks' });
      opened.push(c);
      return c;
    };
    beforeAll(async () => {
      const server = topology === 'redis-server' ? (single = await startRedis()) : await startRedisCluster(3);
      url = server.url;
      stop = () => server.stop();
    }, 120_000);
    afterEach(() => {
      for (const c of opened.splice(0)) c.redis.disconnect();
    });
    afterAll(async () => {
      await stop();
    });

    runWebhookOutboxContract({
      name: `redis (${topology})`,
      durable: true,
      shared: true,
      async create() {
        const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
        return { outbox: new RedisWebhookOutbox({ connection: await conn(), keys }), reopen: async () => new RedisWebhookOutbox({ connection: await conn(), keys }) };
      },
    });

    /** Nodes of one deployment: one key prefix, one outbox, one occupancy store per node. */
    async function deployment(nodes: number, o: { ttlMs?: number; intervalMs?: number } = {}) {
      const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
      const outbox = new RedisWebhookOutbox({ connection: await conn(), keys });
      const occ = await Promise.all(Array.from({ length: nodes }, async (_, i) => new RedisChannelOccupancy({ connection: await conn(), keys, node: `n${i}`, ...o })));
      const queued = async () => (await outbox.due(Date.now() + 3_600_000, 100, 0)).map((e) => [e.event.type, e.event.channel]);
      return { outbox, occ, queued };
    }

    it('a channel is occupied once and vacated once, however many nodes hold it; each event enqueued exactly once', async () => {
      const { occ: [a, b, c], queued } = await deployment(3);
      expect(await a!.occupy('chat:x', eventFor('channel.occupied', 'chat:x'))).toBe(true);
      expect(await b!.occupy('chat:x', eventFor('channel.occupied', 'chat:x'))).toBe(false);
      expect(await a!.vacate('chat:x', eventFor('channel.vacated', 'chat:x'))).toBe(false);
      expect(await a!.occupy('chat:x', eventFor('channel.occupied', 'chat:x'))).toBe(false);
      expect(await a!.vacate('chat:x', eventFor('channel.vacated', 'chat:x'))).toBe(false);
      expect(await c!.vacate('chat:x', eventFor('channel.vacated', 'chat:x'))).toBe(false); // never held it
      expect(await b!.vacate('chat:x', eventFor('channel.vacated', 'chat:x'))).toBe(true);
      expect(await b!.vacate('chat:x', eventFor('channel.vacated', 'chat:x'))).toBe(false);
      // Transitions without an event (type not sent) still count.
      expect(await c!.occupy('chat:y', undefined)).toBe(true);
      expect(await a!.occupy('chat:y', eventFor('channel.occupied', 'chat:y'))).toBe(false);
      expect(await queued()).toEqual([['channel.occupied', 'chat:x'], ['channel.vacated', 'chat:x']]);
    });

    it('many nodes occupying and vacating at once: one occupied, then one vacated', async () => {
      const { occ, queued } = await deployment(8);
      const ups = await Promise.all(occ.map((o) => o.occupy('chat:race', eventFor('channel.occupied', 'chat:race'))));
      expect(ups.filter(Boolean)).toHaveLength(1);
      const downs = await Promise.all(occ.map((o) => o.vacate('chat:race', eventFor('channel.vacated', 'chat:race'))));
      expect(downs.filter(Boolean)).toHaveLength(1);
      expect(await queued()).toEqual([['channel.occupied', 'chat:race'], ['channel.vacated', 'chat:race']]);
    });

    it('a dead node does not keep a channel occupied: a live node settles it vacated after the expiry; a graceful stop vacates at once', async () => {
      const { occ: [dead, live, third], queued } = await deployment(3, { ttlMs: 300, intervalMs: 100 });
      await dead!.occupy('chat:d', eventFor('channel.occupied', 'chat:d'));
      await live!.occupy('chat:d', eventFor('channel.occupied', 'chat:d'));
      await live!.occupy('chat:mine', eventFor('channel.occupied', 'chat:mine'));
      await live!.vacate('chat:d', eventFor('channel.vacated', 'chat:d'));
      // `dead` never refreshes again; `live` keeps maintaining (its own channel stays).
      let settled = 0;
      await waitFor(async () => (settled += await live!.maintain(eventFor)) > 0, 10_000, 'the dead node\'s channel to be settled');
      expect(settled).toBe(1);
      expect(await live!.maintain(eventFor)).toBe(0);
      expect(await third!.occupy('chat:mine', eventFor('channel.occupied', 'chat:mine'))).toBe(false);
      await third!.leave(eventFor);
      await live!.leave(eventFor);
      expect(await queued()).toEqual([
        ['channel.occupied', 'chat:d'], ['channel.occupied', 'chat:mine'], ['channel.vacated', 'chat:d'], ['channel.vacated', 'chat:mine'],
      ]);
    });

    it('a node taken for dead while alive (cut off longer than the expiry) takes its channels back on its next refresh', async () => {
      const { occ: [cut, other], queued } = await deployment(2, { ttlMs: 300, intervalMs: 100 });
      await cut!.occupy('chat:p', eventFor('channel.occupied', 'chat:p'));
      await waitFor(async () => (await other!.maintain(eventFor)) > 0, 10_000, 'the silent node\'s channel to be settled');
      expect(await cut!.maintain(eventFor)).toBe(1);
      expect(await other!.occupy('chat:p', eventFor('channel.occupied', 'chat:p'))).toBe(false);
      expect(await other!.vacate('chat:p', eventFor('channel.vacated', 'chat:p'))).toBe(false);
      expect(await cut!.vacate('chat:p', eventFor('channel.vacated', 'chat:p'))).toBe(true);
      expect(await queued()).toEqual([
        ['channel.occupied', 'chat:p'], ['channel.vacated', 'chat:p'], ['channel.occupied', 'chat:p'], ['channel.vacated', 'chat:p'],
      ]);
    });

    if (topology === 'redis-server') {
      it('a node that enqueued nothing delivers what another node enqueued, and keeps doing so after Redis restarted', async () => {
        const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
        const receiver = await new WebhookReceiver().start();
        const config = { url: receiver.url, secret: 'redis-webhooks-secret-0123', events: ['user.online' as const], timeoutMs: 2000, retryDelayMs: 50, maxRetryDelayMs: 200, maxAttempts: 1000 };
        const webhooks = new Webhooks({ config, outbox: new RedisWebhookOutbox({ connection: await conn(), keys }), log: createLogger('silent') });
        webhooks.start();
        const other = new RedisWebhookOutbox({ connection: await conn(), keys });
        try {
          await other.add(newWebhookEvent('user.online', { user: 'before' }));
          await receiver.until(() => receiver.accepted().length === 1);
          await single!.kill();
          await single!.restart();
          // The other node's connection comes back on its own; then it enqueues again.
          await waitFor(() => other.add(newWebhookEvent('user.online', { user: 'after' })).then(() => true, () => false), 20_000, 'the outbox to accept events again');
          await receiver.until(() => receiver.accepted().length === 2);
          expect(receiver.accepted().map((e) => e.user)).toEqual(['before', 'after']);
        } finally {
          await webhooks.close();
          await receiver.close();
        }
      });
    }
  });
}
