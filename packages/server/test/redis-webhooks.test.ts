import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runWebhookOutboxContract } from '../src/webhooks/webhook-outbox.contract.ts';
import { outboxKeys, RedisWebhookOutbox } from '../src/webhooks/redis-webhook-outbox.ts';
import { RedisOccupancy } from '../src/webhooks/redis-occupancy.ts';
import type { Subject, TransitionEventFor } from '../src/webhooks/occupancy.ts';
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
const eventFor: TransitionEventFor = (type, subject) => newWebhookEvent(type, subject.kind === 'channel' ? { channel: subject.name } : { user: subject.name });
const ch = (name: string): Subject => ({ kind: 'channel', name });
const usr = (name: string): Subject => ({ kind: 'user', name });
/** The event of a subject going up (occupied, online) or down. */
const up = (s: Subject) => eventFor(s.kind === 'channel' ? 'channel.occupied' : 'user.online', s);
const down = (s: Subject) => eventFor(s.kind === 'channel' ? 'channel.vacated' : 'user.offline', s);

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

    it('events of the single line of earlier versions (queue, state "<attempts>:<nextAt>") move to their keys, in order', async () => {
      const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
      const c = await conn();
      const k = outboxKeys(keys);
      for (const [i, ev] of [{ id: 'e1', channel: 'chat:a' }, { id: 'e2', channel: 'chat:a' }, { id: 'e3', user: 'alice' }].entries()) {
        await c.redis.zadd(k.queue, i + 1, ev.id);
        await c.redis.hset(k.events, ev.id, JSON.stringify({ ...ev, type: 'user.online', ts: 1000 }));
        await c.redis.hset(k.state, ev.id, '0:1000');
      }
      const outbox = new RedisWebhookOutbox({ connection: c, keys });
      expect((await outbox.due(2000, 10, 100)).map((e) => e.event.id)).toEqual(['e1', 'e3']);
      await outbox.retry('e3', 1, 5000);
      await outbox.done('e1');
      expect((await outbox.due(2200, 10, 60_000)).map((e) => e.event.id)).toEqual(['e2']);
      expect((await outbox.due(5000, 10, 100)).map((e) => [e.event.id, e.attempts])).toEqual([['e3', 1]]);
    });

    /** Nodes of one deployment: one key prefix, one outbox, one occupancy store per node. */
    async function deployment(nodes: number, o: { ttlMs?: number; intervalMs?: number } = {}) {
      const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
      const outbox = new RedisWebhookOutbox({ connection: await conn(), keys });
      const occ = await Promise.all(Array.from({ length: nodes }, async (_, i) => new RedisOccupancy({ connection: await conn(), keys, node: `n${i}`, ...o })));
      // Everything waiting, by ordering key (a channel's, a user's), each key's events in order.
      const queued = async () => (await outbox.due(Date.now() + 3_600_000, 100, 0, 100))
        .map((e, i) => ({ e, i, key: e.event.channel !== undefined ? `c:${e.event.channel}` : `u:${e.event.user}` }))
        .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : x.i - y.i))
        .map(({ e }) => [e.event.type, e.event.channel ?? e.event.user]);
      return { outbox, occ, queued };
    }

    it('a channel is occupied once and vacated once, however many nodes hold it; each event enqueued exactly once', async () => {
      const { occ: [a, b, c], queued } = await deployment(3);
      expect(await a!.occupy(ch('chat:x'), up(ch('chat:x')))).toBe(true);
      expect(await b!.occupy(ch('chat:x'), up(ch('chat:x')))).toBe(false);
      expect(await a!.vacate(ch('chat:x'), down(ch('chat:x')))).toBe(false);
      expect(await a!.occupy(ch('chat:x'), up(ch('chat:x')))).toBe(false);
      expect(await a!.vacate(ch('chat:x'), down(ch('chat:x')))).toBe(false);
      expect(await c!.vacate(ch('chat:x'), down(ch('chat:x')))).toBe(false); // never held it
      expect(await b!.vacate(ch('chat:x'), down(ch('chat:x')))).toBe(true);
      expect(await b!.vacate(ch('chat:x'), down(ch('chat:x')))).toBe(false);
      // Transitions without an event (type not sent) still count.
      expect(await c!.occupy(ch('chat:y'), undefined)).toBe(true);
      expect(await a!.occupy(ch('chat:y'), up(ch('chat:y')))).toBe(false);
      expect(await queued()).toEqual([['channel.occupied', 'chat:x'], ['channel.vacated', 'chat:x']]);
    });

    it('many nodes occupying and vacating at once: one occupied, then one vacated', async () => {
      const { occ, queued } = await deployment(8);
      const ups = await Promise.all(occ.map((o) => o.occupy(ch('chat:race'), up(ch('chat:race')))));
      expect(ups.filter(Boolean)).toHaveLength(1);
      const downs = await Promise.all(occ.map((o) => o.vacate(ch('chat:race'), down(ch('chat:race')))));
      expect(downs.filter(Boolean)).toHaveLength(1);
      expect(await queued()).toEqual([['channel.occupied', 'chat:race'], ['channel.vacated', 'chat:race']]);
    });

    it('a user on several nodes is online once and offline once; users and channels of one name are distinct', async () => {
      const { occ: [a, b], queued } = await deployment(2);
      expect(await a!.occupy(usr('alice'), up(usr('alice')))).toBe(true);
      expect(await b!.occupy(usr('alice'), up(usr('alice')))).toBe(false);
      expect(await a!.occupy(ch('alice'), up(ch('alice')))).toBe(true);
      expect(await a!.vacate(usr('alice'), down(usr('alice')))).toBe(false);
      expect(await b!.vacate(usr('alice'), down(usr('alice')))).toBe(true);
      expect(await queued()).toEqual([['channel.occupied', 'alice'], ['user.online', 'alice'], ['user.offline', 'alice']]);
    });

    it('a dead node does not keep a channel occupied or a user online: a live node settles them after the expiry', async () => {
      const { occ: [dead, live, third], queued } = await deployment(3, { ttlMs: 300, intervalMs: 100 });
      expect(await dead!.occupy(ch('chat:d'), up(ch('chat:d')))).toBe(true);
      expect(await dead!.occupy(usr('carol'), up(usr('carol')))).toBe(true);
      expect(await live!.occupy(ch('chat:d'), up(ch('chat:d')))).toBe(false);
      expect(await live!.occupy(ch('chat:mine'), up(ch('chat:mine')))).toBe(true);
      expect(await live!.occupy(usr('dave'), up(usr('dave')))).toBe(true);
      expect(await live!.vacate(ch('chat:d'), down(ch('chat:d')))).toBe(false);
      // `dead` never refreshes again; `live` keeps maintaining (what it holds stays).
      let settled = 0;
      await waitFor(async () => (settled += await live!.maintain(eventFor)) >= 2, 10_000, 'the dead node\'s channel and user to be settled');
      expect(settled).toBe(2);
      expect(await live!.maintain(eventFor)).toBe(0);
      expect(await third!.occupy(ch('chat:mine'), up(ch('chat:mine')))).toBe(false);
      expect(await third!.occupy(usr('dave'), up(usr('dave')))).toBe(false);
      expect(await queued()).toEqual([
        ['channel.occupied', 'chat:d'], ['channel.vacated', 'chat:d'], ['channel.occupied', 'chat:mine'], ['user.online', 'carol'], ['user.offline', 'carol'], ['user.online', 'dave'],
      ]);
    });

    it('a node taken for dead while alive (cut off longer than the expiry) takes its channels back on its next refresh', async () => {
      const { occ: [cut, other], queued } = await deployment(2, { ttlMs: 300, intervalMs: 100 });
      await cut!.occupy(ch('chat:p'), up(ch('chat:p')));
      await waitFor(async () => (await other!.maintain(eventFor)) > 0, 10_000, 'the silent node\'s channel to be settled');
      expect(await cut!.maintain(eventFor)).toBe(1);
      expect(await other!.occupy(ch('chat:p'), up(ch('chat:p')))).toBe(false);
      expect(await other!.vacate(ch('chat:p'), down(ch('chat:p')))).toBe(false);
      expect(await cut!.vacate(ch('chat:p'), down(ch('chat:p')))).toBe(true);
      expect(await queued()).toEqual([
        ['channel.occupied', 'chat:p'], ['channel.vacated', 'chat:p'], ['channel.occupied', 'chat:p'], ['channel.vacated', 'chat:p'],
      ]);
    });

    if (topology === 'redis-server') {
      it('a transition that could not be stored (Redis down) is made on the next refresh once Redis is back', async () => {
        const { occ: [node], queued } = await deployment(1);
        await single!.kill();
        await expect(node!.occupy(usr('gus'), up(usr('gus')))).rejects.toThrow();
        await single!.restart();
        let made = 0;
        await waitFor(async () => (made += await node!.maintain(eventFor).catch(() => 0)) > 0, 20_000, 'the node to refresh once Redis is back');
        expect(made).toBe(1);
        expect(await queued()).toEqual([['user.online', 'gus']]);
      });

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
