import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import * as wsModule from 'ws';
import { RawClient, connectAuthed, startGateway, token } from './helpers.ts';
import { Outbox } from '../src/connection/outbox.ts';
import { TEXT_FRAME_SLOT, textFrame } from '../src/transport/ws.ts';
import { FanoutEncoder } from '../src/transport/fanout.ts';

const open = { allowSubscribe: true, allowPublish: true };
/** Connects with `?batch=1` (or without) and waits for auth_success. */
async function connect(wsUrl: string, sub: string, batch: boolean): Promise<RawClient> {
  const c = new RawClient(`${wsUrl}?${batch ? 'batch=1&' : ''}token=${await token(sub)}`);
  await c.next((f) => f.type === 'auth_success');
  return c;
}

let stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const s of stops.reverse()) await s();
  stops = [];
});

describe('ws transport: pre-framed fan-out writes', () => {
  it('frames payloads of every length class exactly as ws would (7-bit, 16-bit, 64-bit lengths)', () => {
    for (const n of [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]) {
      const payload = Buffer.alloc(n, 0x61);
      const f = textFrame(payload);
      expect(f[0]).toBe(0x81); // FIN + text
      const len7 = f[1]! & 0x7f;
      expect(f[1]! & 0x80).toBe(0); // server frames are not masked
      const [len, head] = len7 < 126 ? [len7, 2] : len7 === 126 ? [f.readUInt16BE(2), 4] : [Number(f.readBigUInt64BE(2)), 10];
      expect(len).toBe(n);
      expect(f.length).toBe(head + n);
      expect(f.subarray(head).equals(payload)).toBe(true);
      // The write path frames a payload once for every socket sending it in a pass.
      const fanout = new FanoutEncoder();
      const once = fanout.memo(TEXT_FRAME_SLOT, payload);
      expect(once.equals(f)).toBe(true);
      expect(fanout.memo(TEXT_FRAME_SLOT, payload)).toBe(once);
      expect(fanout.built(TEXT_FRAME_SLOT)).toBe(1);
    }
  });

  it('frames byte for byte as ws\'s own Sender writes the same text message', () => {
    // Pins the public door (`Sender.frame`) against the library's own write path, so a `ws`
    // upgrade that changed framing would fail here rather than on the wire.
    type SenderCtor = new (socket: Writable) => { send(data: Buffer, o: object, cb?: () => void): void };
    const Sender = (wsModule as unknown as { Sender: SenderCtor }).Sender;
    for (const n of [0, 3, 125, 126, 65_535, 65_536]) {
      const written: Buffer[] = [];
      const sink = new Writable({ write(chunk, _enc, cb) { written.push(chunk); cb(); } });
      new Sender(sink).send(Buffer.alloc(n, 0x62), { binary: false, fin: true, compress: false, mask: false });
      expect(textFrame(Buffer.alloc(n, 0x62)).equals(Buffer.concat(written))).toBe(true);
    }
  });

  it('keeps pre-framed writes, ws\'s automatic pongs and its close frame in order on one socket', async () => {
    // The ordering invariant of WsTransport: ws writes control frames (pongs, close) to the
    // same socket as our pre-framed data; an interleaved write would corrupt the stream, which
    // the client's ws receiver reports as an error and a 1002/1006 close.
    const gw = await startGateway({ namespaces: { f: open }, limits: { commandsPerSecond: 10_000, maxFrameBytes: 50_000 } });
    stops.push(() => gw.close());
    const sub = await connect(gw.wsUrl, 'sub', true);
    stops.push(() => sub.close());
    await sub.request({ type: 'subscribe', channel: 'f:x' });
    const errors: Error[] = [];
    sub.ws.on('error', (e) => errors.push(e));
    let pongs = 0;
    sub.ws.on('pong', () => pongs++);
    const pub = await connectAuthed(gw.wsUrl, 'pub');
    stops.push(() => pub.close());
    for (let i = 0; i < 200; i++) {
      pub.send({ type: 'publish', channel: 'f:x', data: { i, pad: 'z'.repeat(i % 2 ? 3000 : 90) } });
      if (i % 5 === 0) sub.ws.ping(); // ws cuts off a client with 60 pongs pending (ping flood)
    }
    await sub.next((f) => f.type === 'message' && f.data.i === 199, 20_000);
    await expect.poll(() => pongs).toBe(40);
    // Now ws itself closes (over-long frame) while publications still stream to this socket.
    for (let i = 200; i < 400; i++) pub.send({ type: 'publish', channel: 'f:x', data: { i, pad: 'z'.repeat(3000) } });
    sub.ws.send('x'.repeat(60_000));
    expect(await sub.waitClose(20_000)).toBe(3501);
    const got = sub.frames.filter((f) => f.type === 'message').map((f) => f.data.i);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i));
    expect(errors).toEqual([]);
  });

  it('joins a batch once for identical queues and never confuses different ones', () => {
    const a = Buffer.from('{"type":"message","n":1}');
    const b = Buffer.from('{"type":"message","n":2}');
    const q1 = [a, b];
    const outbox = new Outbox();
    const joinBatch = (q: Buffer[]) => outbox.joinBatch(q);
    const first = joinBatch(q1);
    expect(JSON.parse(first.toString())).toEqual([{ type: 'message', n: 1 }, { type: 'message', n: 2 }]);
    expect(joinBatch([a, b])).toBe(first);
    expect(JSON.parse(joinBatch([b, a]).toString())).toEqual([{ type: 'message', n: 2 }, { type: 'message', n: 1 }]);
    expect(JSON.parse(joinBatch([a]).toString())).toEqual([{ type: 'message', n: 1 }]);
  });

  it('delivers every publication in order to batching and non-batching subscribers alike', async () => {
    const gw = await startGateway({ namespaces: { f: open }, limits: { commandsPerSecond: 10_000, maxFrameBytes: 200_000 } });
    stops.push(() => gw.close());
    const subs: RawClient[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await connect(gw.wsUrl, `s${i}`, i % 2 === 1);
      subs.push(c);
      stops.push(() => c.close());
      expect((await c.request({ type: 'subscribe', channel: 'f:x' })).type).toBe('ack');
    }
    const pub = await connectAuthed(gw.wsUrl, 'pub');
    stops.push(() => pub.close());
    // Sizes around the 7/16-bit length boundaries; sent back to back so many share a turn.
    const sizes = [1, 100, 120, 130, 300, 65_000, 5, 70_000 - 200];
    for (let i = 0; i < 40; i++) pub.send({ type: 'publish', channel: 'f:x', data: { i, pad: 'x'.repeat(sizes[i % sizes.length]!) } });
    for (const c of subs) {
      await c.next((f) => f.type === 'message' && f.data.i === 39, 10_000);
      const got = c.frames.filter((f) => f.type === 'message').map((f) => f.data.i);
      expect(got).toEqual(Array.from({ length: 40 }, (_, i) => i));
    }
  });

  it('still closes a subscriber that stops reading with 3008 slow_consumer', async () => {
    const gw = await startGateway({ namespaces: { f: open }, limits: { commandsPerSecond: 10_000, maxQueueBytes: 1024 * 1024 } });
    stops.push(() => gw.close());
    const slow = await connect(gw.wsUrl, 'slow', true);
    stops.push(() => slow.close());
    await slow.request({ type: 'subscribe', channel: 'f:x' });
    const fast = await connectAuthed(gw.wsUrl, 'fast');
    stops.push(() => fast.close());
    await fast.request({ type: 'subscribe', channel: 'f:x' });
    slow.ws.pause(); // stops reading the socket
    const pub = await connectAuthed(gw.wsUrl, 'pub');
    stops.push(() => pub.close());
    const pad = 'y'.repeat(20_000);
    // 24 MB in rounds the reading subscriber keeps up with: more than the kernel buffers of
    // the paused reader hold, plus its 1 MiB queue limit.
    for (let round = 0; round < 40; round++) {
      for (let i = round * 30; i < (round + 1) * 30; i++) pub.send({ type: 'publish', channel: 'f:x', data: { i, pad } });
      const last = (round + 1) * 30 - 1;
      await fast.next((f) => f.type === 'message' && f.data.i === last, 10_000);
    }
    await expect.poll(() => gw.node.hub.stats.clients, { timeout: 10_000 }).toBe(2);
    slow.ws.resume();
    expect(await slow.waitClose(10_000)).toBe(3008);
  });

  it('closes an over-long frame with 3501 bad_request, not ws\'s 1009', async () => {
    const gw = await startGateway({ limits: { maxFrameBytes: 1000 } });
    stops.push(() => gw.close());
    const c = await connectAuthed(gw.wsUrl, 'big');
    stops.push(() => c.close());
    c.send('x'.repeat(5000));
    expect(await c.waitClose()).toBe(3501);
  });
});

describe('ws transport: inbound backpressure', () => {
  it('takes a burst of thousands of pipelined commands without cutting the client off, all acknowledged in order', async () => {
    const gw = await startGateway({ namespaces: { f: open }, limits: { commandsPerSecond: 100_000 } });
    stops.push(() => gw.close());
    const c = await connectAuthed(gw.wsUrl, 'burst');
    stops.push(() => c.close());
    // One write of 3,000 commands: far more than the 256 held before the server pauses reading.
    const frames = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ type: 'publish', id: `p${i}`, channel: 'f:x', data: { i } }));
    c.socket!.cork();
    for (const f of frames) c.ws.send(f);
    c.socket!.uncork();
    await c.next((f) => f.type === 'ack' && f.id === 'p2999', 20_000);
    const acks = c.frames.filter((f) => f.type === 'ack').map((f) => f.id);
    expect(acks).toEqual(frames.map((_, i) => `p${i}`));
    expect(c.closeCode).toBeUndefined();
  });
});
