import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { startHttpProxy, type HttpProxy } from './support/http-proxy.ts';
import { waitFor } from './support/ports.ts';
import { startGateway, token, connectAuthed } from '../packages/server/test/helpers.ts';
import { makeClient, closeClients, until, NAMESPACES } from '../packages/client/test/helpers.ts';
import type { Switchboard } from '../packages/client/src/index.ts';

/**
 * The SDK where WebSocket is blocked, in Node: two gateway nodes on a real redis-server
 * behind a proxy that refuses every upgrade and round-robins plain HTTP over both nodes
 * (no stickiness), and behind one that also buffers each response until it ends. The
 * application passes the same `ws://…/ws` URL it always does.
 */
let redis: RedisProcess;
let nodes: Array<Awaited<ReturnType<typeof startGateway>>>;
let proxy: HttpProxy;
let buffering: HttpProxy;

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all([0, 1].map(() => startGateway({ redis: redis.url, storage: 'redis', namespaces: NAMESPACES, transports: { pollTimeoutMs: 3000 } })));
  const targets = nodes.map((n) => n.url);
  [proxy, buffering] = await Promise.all([startHttpProxy({ targets }), startHttpProxy({ targets, buffer: true })]);
}, 60_000);
afterEach(() => closeClients());
afterAll(async () => {
  await Promise.all([proxy?.close(), buffering?.close()]);
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await redis?.stop();
});

/** Publishes `n` numbered messages from a WebSocket client on a node (outside the proxy). */
async function publishFrom(node: number, channel: string, from: number, n: number): Promise<void> {
  const pub = await connectAuthed(nodes[node]!.wsUrl, 'publisher');
  for (let i = from; i < from + n; i++) pub.send({ type: 'publish', id: `p${i}`, channel, data: i });
  await pub.next((f) => f.type === 'ack' && f.id === `p${from + n - 1}`, 30_000); // all stored (commands run in order)
  pub.close();
}

const received = (c: Switchboard, channel: string): number[] => {
  const got: number[] = [];
  c.getSubscription(channel)!.on('message', (m) => got.push(m.data as number));
  return got;
};

describe('behind a proxy that refuses upgrades and round-robins two nodes', () => {
  it('falls back to http-stream: 100 publications once and in order, acked publish, requests on both nodes', async () => {
    const before = [...proxy.hits];
    const c = makeClient(proxy.wsUrl, { token: await token('alice'), fallbackTimeoutMs: 3000, connectTimeoutMs: 10_000 });
    const sub = c.subscribe('chat:fallback');
    const got = received(c, 'chat:fallback');
    await sub.ready();
    expect(c.transport).toBe('http-stream');
    expect(proxy.refusedUpgrades).toBeGreaterThan(0);
    await publishFrom(1, 'chat:fallback', 0, 100);
    await waitFor(() => got.length >= 100, 20_000, '100 publications');
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const ack = await c.publish('chat:fallback', 'mine');
    expect(ack.offset).toBe(101);
    expect(proxy.hits.every((h, i) => h > before[i]!)).toBe(true);
  });

  it.each(['http-stream', 'long-polling'] as const)('%s: recovers every message across a dropped stream', async (kind) => {
    const c = makeClient(proxy.wsUrl, { token: await token('bob'), transports: [kind], connectTimeoutMs: 10_000 });
    const channel = `chat:drop-${kind}`;
    const sub = c.subscribe(channel);
    const got = received(c, channel);
    await sub.ready();
    expect(c.transport).toBe(kind);
    await publishFrom(0, channel, 0, 50);
    await waitFor(() => got.length >= 50, 20_000, 'first 50');
    let drops = 0;
    c.on('disconnected', () => drops++);
    proxy.cut();
    await publishFrom(1, channel, 50, 50); // published while the stream is down
    await waitFor(() => got.length >= 100, 30_000, 'all 100 after the drop');
    expect(drops).toBeGreaterThan(0);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(c.transport).toBe(kind);
  });
});

describe('behind a proxy that also buffers every response', () => {
  it('connects by long-polling, receives in order and publishes with an acknowledgement', async () => {
    const c = makeClient(buffering.wsUrl, { token: await token('carol'), fallbackTimeoutMs: 2000, connectTimeoutMs: 10_000 });
    const sub = c.subscribe('chat:buffered');
    const got = received(c, 'chat:buffered');
    await until(c, 'connected', 30_000);
    await sub.ready();
    expect(c.transport).toBe('long-polling');
    await publishFrom(0, 'chat:buffered', 0, 100);
    await waitFor(() => got.length >= 100, 30_000, '100 publications');
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const ack = await c.publish('chat:buffered', 'mine');
    expect(ack.offset).toBe(101);
    expect(buffering.hits.every((h) => h > 0)).toBe(true);
  });
});
