import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RawClient, connectAuthed, startGateway } from './helpers.ts';
import { sleep, waitFor } from '../../../test/support/ports.ts';
import type { SwitchboardServer } from '../src/index.ts';

let gw: (SwitchboardServer & { wsUrl: string; url: string }) | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

function handshakeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => { ws.terminate(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate(); });
    ws.once('error', (err) => { if (!/Unexpected server response/.test(err.message)) reject(err); });
  });
}

describe('per-connection command rate', () => {
  it('answers a temporary too_many_requests past the burst, and the connection recovers when it slows down', async () => {
    gw = await startGateway({ limits: { commandsPerSecond: 5 } });
    const c = await connectAuthed(gw.wsUrl, 'alice');
    for (let i = 0; i < 13; i++) c.send({ type: 'ping', id: i });
    const err = await c.next((f) => f.type === 'error' && f.code === 'too_many_requests');
    expect(err.temporary).toBe(true);
    // It names the refused command: each of the 13 ids is answered exactly once, by a pong or this error.
    expect(typeof err.id).toBe('number');
    await waitFor(() => c.frames.filter((f) => f.type === 'pong').length + c.frames.filter((f) => f.type === 'error').length >= 13, 5000, 'answers');
    const answered = c.frames.filter((f) => f.type === 'pong' || f.type === 'error').map((f) => f.id).sort((a, b) => a - b);
    expect(answered).toEqual([...Array(13).keys()]);
    expect(c.closeCode).toBeUndefined();
    await sleep(1100);
    c.send({ type: 'ping', id: 'later' });
    await c.next((f) => f.type === 'pong' && f.id === 'later');
    expect(c.closeCode).toBeUndefined();
    c.close();
  });

  it('closes 3013 a connection that keeps flooding', async () => {
    gw = await startGateway({ limits: { commandsPerSecond: 5 } });
    const c = await connectAuthed(gw.wsUrl, 'alice');
    for (let i = 0; i < 100; i++) c.send({ type: 'ping' });
    expect(await c.waitClose()).toBe(3013);
    expect(c.frames.find((f) => f.type === 'disconnect')).toMatchObject({ code: 3013, reason: 'too_many_requests' });
  });
});

describe('per-connection inbox', () => {
  it('holds a burst queued behind a slow command (reading paused), then answers all of it in order', async () => {
    gw = await startGateway({ limits: { commandsPerSecond: 1000 }, namespaces: { chat: { history: { size: 10, ttl: '1h' }, allowSubscribe: true } } });
    const store = gw.node.history as unknown as { read: (...a: unknown[]) => Promise<unknown> };
    const read = store.read;
    store.read = async (...a: unknown[]) => { await sleep(500); return read.apply(store, a); };
    const c = await connectAuthed(gw.wsUrl, 'alice');
    c.send({ type: 'subscribe', id: 's', channel: 'chat:slow' });
    for (let i = 0; i < 600; i++) c.send({ type: 'ping', id: i });
    await c.next((f) => f.type === 'pong' && f.id === 599, 10_000);
    const order = c.frames.filter((f) => f.type === 'pong' || f.id === 's').map((f) => f.id);
    expect(order).toEqual(['s', ...Array.from({ length: 600 }, (_, i) => i)]);
    expect(c.closeCode).toBeUndefined();
  });

  it('closes 3013 when more than 4 MiB of commands wait behind a slow one', async () => {
    gw = await startGateway({ limits: { commandsPerSecond: 10_000 }, namespaces: { chat: { history: { size: 10, ttl: '1h' }, allowSubscribe: true } } });
    const store = gw.node.history as unknown as { read: (...a: unknown[]) => Promise<unknown> };
    const read = store.read;
    store.read = async (...a: unknown[]) => { await sleep(2000); return read.apply(store, a); };
    const c = await connectAuthed(gw.wsUrl, 'alice');
    c.send({ type: 'subscribe', id: 's', channel: 'chat:slow' });
    const pad = 'x'.repeat(60_000);
    for (let i = 0; i < 120; i++) c.send({ type: 'ping', pad }); // 7 MB: past 4 MiB long before 256 frames would pause reading
    expect(await c.waitClose(10_000)).toBe(3013);
  });
});

describe('per-IP connection rate', () => {
  it('refuses with 429 past the burst and accepts again once the bucket refills', async () => {
    gw = await startGateway({ limits: { connectionsPerIpPerSecond: 2 } });
    const first = await Promise.all(Array.from({ length: 10 }, () => handshakeStatus(gw!.wsUrl)));
    expect(first.filter((s) => s === 101).length).toBeLessThanOrEqual(5);
    expect(first).toContain(429);
    await sleep(1200);
    expect(await handshakeStatus(gw.wsUrl)).toBe(101);
  });
});

describe('outbound queue cap (slow consumer)', () => {
  it('closes 3008 a client that stops reading while its channel is flooded; it recovers from history', async () => {
    gw = await startGateway({ limits: { maxQueueBytes: 64 * 1024 }, namespaces: { chat: { history: { size: 5000, ttl: '1h' } } } });
    const slow = await connectAuthed(gw.wsUrl, 'slow', { channels: ['chat:*'] });
    const ack = await slow.request({ type: 'subscribe', channel: 'chat:flood' });
    const serverSide = [...gw.node.connections][0]!;
    const socket = slow.socket!;
    socket.pause(); // stops reading: the kernel buffers fill, then the gateway's queue

    const ch = gw.node.resolve('chat:flood');
    const pad = 'x'.repeat(8 * 1024);
    let published = 0;
    while (serverSide.state !== 'closed' && published < 4000) {
      await gw.node.publish(ch, { i: ++published, pad });
      if (published % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(serverSide.state).toBe('closed');
    for (let i = 0; i < 20; i++) await gw.node.publish(ch, { i: ++published, pad }); // more after the close

    socket.resume();
    expect(await slow.waitClose(10_000)).toBe(3008);
    const got = slow.frames.filter((f) => f.type === 'message').map((f) => f.offset as number);
    expect(got.length).toBeLessThan(published);
    got.forEach((o, k) => expect(o).toBe(k + 1)); // what arrived is an unbroken prefix

    // Recovery: page through history from the last offset received, then subscribe from there.
    const back = await connectAuthed(gw.wsUrl, 'slow', { channels: ['chat:*'] });
    let last = got.at(-1) ?? 0;
    // The position's epoch is the last message's (the ack's is "0": the stream was unwritten then).
    const epoch = slow.frames.filter((f) => f.type === 'message').at(-1)?.epoch ?? ack.epoch;
    const recovered: number[] = [];
    for (;;) {
      const page = await back.request({ type: 'history', channel: 'chat:flood', since: { epoch, offset: last }, limit: 4 });
      expect(page.type).toBe('ack');
      if (page.publications.length === 0) break;
      for (const p of page.publications) recovered.push(p.offset);
      last = page.publications.at(-1).offset;
    }
    const sub = await back.request({ type: 'subscribe', channel: 'chat:flood', since: { epoch, offset: last } });
    expect(sub).toMatchObject({ type: 'ack', recovered: true, publications: [] });
    expect([...got, ...recovered]).toEqual(Array.from({ length: published }, (_, k) => k + 1));
    back.close();
  });
});
