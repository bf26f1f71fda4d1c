import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startGateway } from '../packages/server/test/helpers.ts';
import { startRedis } from './support/redis.ts';
import { startPostgres } from './support/postgres.ts';
import { waitFor } from './support/ports.ts';
import { PUSHER_APP, connected, pusherClient, pusherServer, subscribed, type PusherClient } from './support/pusher.ts';

// Two gateway nodes on each cluster backend (a real redis-server, a real PostgreSQL server):
// Pusher clients on node A, the pusher SDK triggering through node B (and the other way round).
const BACKENDS = {
  Redis: async () => {
    const redis = await startRedis();
    return { options: { redis: redis.url, storage: 'redis' }, stop: () => redis.stop() };
  },
  PostgreSQL: async () => {
    const pg = await startPostgres();
    return { options: { postgres: await pg.database('switchboard'), storage: 'postgres' }, stop: () => pg.stop() };
  },
} as const;

describe.each(Object.keys(BACKENDS) as Array<keyof typeof BACKENDS>)('Pusher in cluster mode (two nodes on %s)', (backend) => {
  let stopBackend: (() => Promise<void>) | undefined;
  let a: Awaited<ReturnType<typeof startGateway>>;
  let b: Awaited<ReturnType<typeof startGateway>>;
  const clients: PusherClient[] = [];
  const portOf = (g: { url: string }) => Number(new URL(g.url).port);

  beforeAll(async () => {
    const started = await BACKENDS[backend]();
    stopBackend = started.stop;
    const options = {
      ...started.options,
      namespaces: { px: { history: { size: 50, ttl: '1h' } } },
      pusher: { apps: [{ ...PUSHER_APP, clientEvents: true }] },
    };
    // One after the other: the second finds the schema in place.
    a = await startGateway(options);
    b = await startGateway(options);
  }, 90_000);
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all([a?.close(), b?.close()]);
    await stopBackend?.();
  });

  function client(node: { url: string }, o: Parameters<typeof pusherClient>[1] = {}): PusherClient {
    const c = pusherClient(portOf(node), { server: pusherServer(portOf(node)), ...o });
    clients.push(c);
    return c;
  }

  it('a client on node A gets what the SDK triggers on node B, in order, once, except the socket_id it names', async () => {
    const onA = client(a);
    const alsoOnA = client(a);
    const [, skipped] = await Promise.all([connected(onA), connected(alsoOnA)]);
    const got = (await subscribed(onA, 'orders')).events;
    const notGot = (await subscribed(alsoOnA, 'orders')).events;
    const viaB = pusherServer(portOf(b));
    await waitFor(async () => (await (await viaB.get({ path: '/channels/orders', params: { info: 'subscription_count' } })).json()).subscription_count === 2, 15_000);
    for (let i = 0; i < 10; i++) await viaB.trigger('orders', 'created', { i }, { socket_id: skipped });
    await waitFor(() => got.length >= 10);
    expect(got.map((e) => e.data.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await viaB.trigger('orders', 'done', {});
    await waitFor(() => got.length >= 11 && notGot.length >= 1);
    expect(notGot).toEqual([{ event: 'done', data: {} }]);
    expect(got).toHaveLength(11);
  });

  it('presence and client events across nodes: members on both, member_added/removed, whispers', async () => {
    const alice = client(a, { presence: { user_id: 'alice', user_info: { n: 1 } } });
    const bob = client(b, { presence: { user_id: 'bob', user_info: { n: 2 } } });
    const first = await subscribed(alice, 'presence-room');
    const added: string[] = [];
    const removed: string[] = [];
    const typing: unknown[] = [];
    first.channel.bind('pusher:member_added', (m: { id: string }) => added.push(m.id));
    first.channel.bind('pusher:member_removed', (m: { id: string }) => removed.push(m.id));
    first.channel.bind('client-typing', (d: unknown) => typing.push(d));
    const second = await subscribed(bob, 'presence-room');
    expect(second.data.members).toEqual({ alice: { n: 1 }, bob: { n: 2 } });
    await waitFor(() => added.length > 0);
    expect(added).toEqual(['bob']);
    second.channel.trigger('client-typing', { from: 'b' });
    await waitFor(() => typing.length > 0);
    expect(typing).toEqual([{ from: 'b' }]);
    bob.disconnect();
    await waitFor(() => removed.length > 0);
    expect(removed).toEqual(['bob']);
  });

  it('a reconnecting client recovers what it missed with the extension field since', async () => {
    const url = `ws://127.0.0.1:${portOf(a)}/app/${PUSHER_APP.key}?protocol=7`;
    const first = new RawClient(url);
    await first.next((f) => f.event === 'pusher:connection_established');
    first.send({ event: 'pusher:subscribe', data: { channel: 'feed' } });
    const ok = await first.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    expect(ok.position).toMatchObject({ offset: expect.any(Number) });
    const viaB = pusherServer(portOf(b));
    await viaB.trigger('feed', 'item', { n: 1 });
    const seen = await first.next((f) => f.event === 'item');
    first.close();
    for (let n = 2; n <= 4; n++) await viaB.trigger('feed', 'item', { n });
    const again = new RawClient(url);
    await again.next((f) => f.event === 'pusher:connection_established');
    again.send({ event: 'pusher:subscribe', data: { channel: 'feed', since: seen.position } });
    const resumed = await again.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    expect(resumed.recovered).toBe(true);
    await viaB.trigger('feed', 'item', { n: 5 });
    await again.next((f) => f.event === 'item' && JSON.parse(f.data).n === 5);
    expect(again.frames.filter((f) => f.event === 'item').map((f) => JSON.parse(f.data).n)).toEqual([2, 3, 4, 5]);
    again.close();
  });
});
