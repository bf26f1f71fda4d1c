import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, token, connectAuthed, type RawClient } from './helpers.ts';
import { HttpRawClient } from './http-client.ts';
import { waitFor } from '../../../test/support/ports.ts';

/**
 * The HTTP fallback transports on one node (docs/transports.md), driven with bare `fetch`
 * as a client in another language would: the same protocol frames as WebSocket, commands
 * by POST, and the same defences.
 */
const NAMESPACES = {
  '': {},
  chat: { history: { size: 1000, ttl: '1h' }, allowSubscribe: true, allowPublish: true, presence: true },
};

let gw: Awaited<ReturnType<typeof startGateway>>;
beforeAll(async () => {
  gw = await startGateway({ namespaces: NAMESPACES, allowedOrigins: ['https://app.example.com'], transports: { pollTimeoutMs: 1500 } });
});
afterAll(() => gw?.close());

const open = async (kind: 'stream' | 'sse' | 'poll', user = 'alice', headers: Record<string, string> = {}) => {
  const c = new HttpRawClient(gw.url, kind, `token=${await token(user)}&batch=1`, headers);
  await c.ready;
  await c.next((f) => f.type === 'auth_success');
  return c;
};

describe.each(['stream', 'sse', 'poll'] as const)('%s', (kind) => {
  it('authenticates, subscribes, publishes with an acknowledged offset and receives in order', async () => {
    const c = await open(kind);
    const sub = await c.request({ type: 'subscribe', channel: `chat:${kind}` });
    expect(sub.type).toBe('ack');
    const acks = [];
    for (let i = 0; i < 20; i++) acks.push(c.request({ type: 'publish', channel: `chat:${kind}`, data: { i } }));
    const offsets = (await Promise.all(acks)).map((a) => a.offset);
    expect(offsets.every((o) => typeof o === 'number')).toBe(true);
    await c.next((f) => f.type === 'message' && f.data.i === 19);
    const got = c.frames.filter((f) => f.type === 'message').map((f) => f.offset);
    expect(got).toEqual([...got].sort((a, b) => a - b));
    expect(got).toHaveLength(20);
    c.drop();
  });

  it('receives what a WebSocket client publishes, and recovers it by offset after a dropped stream', async () => {
    const ws = await connectAuthed(gw.wsUrl, 'bob', { publish: ['chat:*'] } as never);
    const c = await open(kind, 'carol');
    const ack = await c.request({ type: 'subscribe', channel: `chat:r-${kind}` });
    await (ws as RawClient).request({ type: 'publish', channel: `chat:r-${kind}`, data: 1 });
    const m1 = await c.next((f) => f.type === 'message' && f.data === 1);
    expect(m1.offset).toBe(ack.offset + 1);
    c.drop();
    for (let i = 2; i <= 5; i++) await (ws as RawClient).request({ type: 'publish', channel: `chat:r-${kind}`, data: i });
    const again = await open(kind, 'carol');
    // The position is the last message seen: its epoch and offset.
    const rec = await again.request({ type: 'subscribe', channel: `chat:r-${kind}`, since: { epoch: m1.epoch, offset: m1.offset } });
    expect(rec.recovered).toBe(true);
    expect(rec.publications.map((p: any) => p.data)).toEqual([2, 3, 4, 5]);
    again.drop();
    ws.close();
  });

  it('takes 300 commands in one POST /send (within the command burst) as WebSocket does: all acknowledged in order, no close', async () => {
    const c = await open(kind, `burst-${kind}`);
    const channel = `chat:burst-${kind}`;
    const status = await c.send(...Array.from({ length: 300 }, (_, i) => ({ type: 'publish', id: `b${i}`, channel, data: i })));
    expect(status).toBe(202);
    await c.next((f) => f.id === 'b299', 30_000);
    const answers = c.frames.filter((f) => typeof f.id === 'string' && f.id.startsWith('b'));
    expect(answers.map((f) => [f.type, f.offset])).toEqual(Array.from({ length: 300 }, (_, i) => ['ack', i + 1]));
    expect(c.closeCode).toBeUndefined();
    c.drop();
  });

  it('POST /close ends the connection: the close record (1000), then the end of the response', async () => {
    const c = await open(kind, `close-${kind}`);
    const live = () => [...gw.node.connections].filter((x) => x.user === `close-${kind}`).length;
    expect(live()).toBe(1);
    expect((await fetch(`${gw.url}/close?conn=${encodeURIComponent(c.conn)}`, { method: 'POST' })).status).toBe(204);
    expect(await c.waitClose()).toBe(1000);
    expect(c.records.at(-1)).toEqual({ transport: 'close', code: 1000, reason: 'client_closed' });
    if (kind !== 'poll') await waitFor(() => c.streamEnded, 5000, 'the end of the stream response');
    expect(live()).toBe(0);
  });

  it('answers a refused token with auth_failed and a close record carrying the code', async () => {
    const c = new HttpRawClient(gw.url, kind, 'token=not-a-jwt');
    await c.ready;
    expect(await c.waitClose()).toBe(3500); // invalid_token
    expect(c.frames.find((f) => f.type === 'auth_failed')).toBeTruthy();
  });
});

describe('defences', () => {
  it('refuses a disallowed origin with 403 and no CORS header; echoes an allowed one', async () => {
    const bad = new HttpRawClient(gw.url, 'stream', '', { origin: 'https://evil.example' });
    await expect(bad.ready).rejects.toThrow('403');
    expect(bad.refused!.body.error.code).toBe('origin_not_allowed');
    expect(bad.refused!.headers.get('access-control-allow-origin')).toBeNull();
    const good = await fetch(`${gw.url}/poll`, { headers: { origin: 'https://app.example.com' } });
    expect(good.status).toBe(200);
    expect(good.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const pre = await fetch(`${gw.url}/send`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).toBe(403);
  });

  it('answers errors in the server\'s one shape: a body too large, an unknown path', async () => {
    const big = await fetch(`${gw.url}/send?conn=x`, { method: 'POST', body: 'x'.repeat(1024 * 1024 + 1) });
    expect([big.status, (await big.json()).error]).toMatchObject([413, { code: 'limit_exceeded' }]);
    const none = await fetch(`${gw.url}/nope`);
    expect([none.status, (await none.json()).error]).toMatchObject([404, { code: 'not_found' }]);
  });

  it('refuses malformed, forged and unknown connection ids with documented errors', async () => {
    const c = await open('stream');
    const post = async (conn: string) => {
      const r = await fetch(`${gw.url}/send?conn=${encodeURIComponent(conn)}`, { method: 'POST', body: '{"type":"ping"}' });
      return { status: r.status, body: await r.json() };
    };
    expect(await post('nope')).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    const [node, handle, mac] = c.conn.split('.');
    const forged = `${node}.${handle}.${mac!.slice(0, -2)}${mac!.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await post(forged)).toMatchObject({ status: 404, body: { error: { code: 'unknown_connection' } } });
    expect(await post(`${node}.zzzzzzzzzz.${mac}`)).toMatchObject({ status: 404 });
    // A node alone: an id naming another node is unknown here, at once (nothing to relay to).
    expect(await post(`n_othernode.${handle}.${mac}`)).toMatchObject({ status: 404, body: { error: { code: 'unknown_connection' } } });
    expect((await fetch(`${gw.url}/send`, { method: 'POST', body: '' })).status).toBe(400);
    expect((await fetch(`${gw.url}/poll?conn=${encodeURIComponent(c.conn)}&seq=x`)).status).toBe(400);
    c.drop();
  });

  it('closes the connection when the client drops its stream or stops polling', async () => {
    const live = () => [...gw.node.connections].filter((c) => c.user === 'dave' || c.user === 'erin').length;
    const s = await open('sse', 'dave');
    const p = await open('poll', 'erin');
    expect(live()).toBe(2);
    s.drop();
    p.drop();
    await waitFor(() => live() === 0, 10_000, 'both connections closed');
  });

  it('sends a lost poll batch again, and refuses a seq from the past', async () => {
    const p = new HttpRawClient(gw.url, 'poll', `token=${await token('frank')}`);
    await p.ready;
    p.drop(); // stop the loop: poll by hand
    const poll = async (seq: number) => {
      const r = await fetch(`${gw.url}/poll?conn=${encodeURIComponent(p.conn)}&seq=${seq}`);
      return { status: r.status, text: await r.text() };
    };
    const first = await poll(0);
    expect(first.text).toContain('auth_success');
    expect(first.text.split('\n')[0]).toBe('{"transport":"poll","seq":1}');
    const again = await poll(0); // as if the answer to the first poll was lost
    expect(again.text).toBe(first.text);
    const ping = await fetch(`${gw.url}/send?conn=${encodeURIComponent(p.conn)}`, { method: 'POST', body: '{"type":"ping","id":"x"}' });
    expect(ping.status).toBe(202);
    const next = await poll(1);
    expect(next.text).toContain('"pong"');
    expect((await poll(0)).status).toBe(409);
  });

  it('closes a poller that lets its queue grow past maxQueueBytes (3008 slow_consumer)', async () => {
    const small = await startGateway({ namespaces: NAMESPACES, limits: { maxQueueBytes: 2048 }, transports: { pollTimeoutMs: 30_000 } });
    try {
      const p = new HttpRawClient(small.url, 'poll', `token=${await token('gina')}`);
      await p.ready;
      await p.request({ type: 'subscribe', channel: 'chat:slow' });
      p.drop();
      const pub = await connectAuthed(small.wsUrl, 'hank');
      for (let i = 0; i < 40; i++) await pub.request({ type: 'publish', channel: 'chat:slow', data: 'x'.repeat(100) });
      await waitFor(() => small.node.connections.size === 1, 10_000, 'the poller closed');
      const r = await fetch(`${small.url}/poll?conn=${encodeURIComponent(p.conn)}&seq=${(p.records.at(-1) as any).seq ?? 0}`);
      expect(await r.text()).toContain('"code":3008');
      pub.close();
    } finally {
      await small.close();
    }
  });

  it('applies the command rate limit and the frame size limit to POSTed commands', async () => {
    const c = await open('stream', 'ivan');
    const many = Array.from({ length: 2000 }, (_, i) => ({ type: 'ping', id: i }));
    await c.send(...many);
    expect(await c.waitClose(10_000)).toBe(3013);
    const d = await open('stream', 'judy');
    await d.send({ type: 'publish', id: 1, channel: 'chat:a', data: 'x'.repeat(70_000) });
    expect(await d.waitClose()).toBe(3501);
  });
});
