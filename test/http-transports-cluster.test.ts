import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { startHttpProxy, type HttpProxy } from './support/http-proxy.ts';
import { startGateway, token, connectAuthed } from '../packages/server/test/helpers.ts';
import { HttpRawClient } from '../packages/server/test/http-client.ts';
import { waitFor } from './support/ports.ts';

/**
 * No sticky sessions, at the wire: two gateway nodes on a real redis-server behind a proxy
 * that refuses WebSocket upgrades and sends each request to the next node in turn. The
 * stream (or each poll) and each POST land on different nodes; the relay carries them to
 * the node that holds the connection.
 */
const NAMESPACES = { '': {}, chat: { history: { size: 1000, ttl: '1h' }, allowSubscribe: true, allowPublish: true } };

let redis: RedisProcess;
let nodes: Array<Awaited<ReturnType<typeof startGateway>>>;
let proxy: HttpProxy;

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all([0, 1].map(() => startGateway({ redis: redis.url, storage: 'redis', namespaces: NAMESPACES, transports: { pollTimeoutMs: 2000 } })));
  proxy = await startHttpProxy({ targets: nodes.map((n) => n.url) });
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await Promise.all((nodes ?? []).map((n) => n.close()));
  await redis?.stop();
});

describe.each(['stream', 'sse', 'poll'] as const)('%s behind a round-robin proxy', (kind) => {
  it('routes every POST and poll to the owning node: 100 publications once and in order, acked publish', async () => {
    const before = [...proxy.hits];
    const c = new HttpRawClient(proxy.url, kind, `token=${await token('alice')}`);
    await c.ready;
    await c.next((f) => f.type === 'auth_success', 10_000);
    const sub = await c.request({ type: 'subscribe', channel: `chat:${kind}` }, 10_000);
    expect(sub.type).toBe('ack');
    const pub = await connectAuthed(nodes[1]!.wsUrl, 'bob');
    for (let i = 0; i < 100; i++) pub.send({ type: 'publish', id: i, channel: `chat:${kind}`, data: i });
    await c.next((f) => f.type === 'message' && f.data === 99, 20_000);
    expect(c.frames.filter((f) => f.type === 'message').map((f) => f.data)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const ack = await c.request({ type: 'publish', channel: `chat:${kind}`, data: 'mine' }, 10_000);
    expect(ack.offset).toBe(101);
    expect(proxy.hits.every((h, i) => h > before[i]!)).toBe(true);
    c.drop();
    pub.close();
  });
});

describe.each(['stream', 'sse', 'poll'] as const)('%s: POST /close on another node', (kind) => {
  it('ends the stream on the node that holds it: the close record (1000), then the end of the response', async () => {
    const c = new HttpRawClient(nodes[0]!.url, kind, `token=${await token(`closer-${kind}`)}`);
    await c.ready;
    await c.next((f) => f.type === 'auth_success', 10_000);
    const r = await fetch(`${nodes[1]!.url}/close?conn=${encodeURIComponent(c.conn)}`, { method: 'POST' });
    expect(r.status).toBe(204);
    expect(await c.waitClose(10_000)).toBe(1000);
    expect(c.records.at(-1)).toEqual({ transport: 'close', code: 1000, reason: 'client_closed' });
    if (kind !== 'poll') await waitFor(() => c.streamEnded, 10_000, 'the end of the stream response');
    await waitFor(() => ![...nodes[0]!.node.connections].some((x) => x.user === `closer-${kind}`), 10_000, 'the connection gone');
  });
});
