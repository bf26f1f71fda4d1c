import { afterEach, describe, expect, it } from 'vitest';
import { constants, inflateRawSync } from 'node:zlib';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { RawClient, connectAuthed, startGateway, token } from './helpers.ts';
import { DEFLATED_FRAME_SLOT, deflatedFrame, sharedDeflateAllowed } from '../src/transport/deflate.ts';
import { textFrame } from '../src/transport/ws.ts';
import { FanoutEncoder } from '../src/transport/fanout.ts';

const open = { allowSubscribe: true, allowPublish: true };
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** A subscriber on a bare `ws` client: offers permessage-deflate (or not), keeps every message text and the bytes read. */
interface Sub { ws: WebSocket; texts: string[]; socket: Socket | undefined; done: Promise<void> }

async function subscriber(wsUrl: string, user: string, channel: string, deflate: boolean | object, expect: number): Promise<Sub> {
  const ws = new WebSocket(`${wsUrl}?token=${await token(user)}`, { perMessageDeflate: deflate as never });
  const s: Sub = { ws, texts: [], socket: undefined, done: Promise.resolve() };
  ws.on('upgrade', (res) => { s.socket = res.socket as Socket; });
  let resolveDone!: () => void;
  s.done = new Promise((r) => { resolveDone = r; });
  const subscribed = new Promise<void>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (raw: Buffer) => {
      const text = raw.toString();
      const f = JSON.parse(text);
      if (f.type === 'auth_success') ws.send(JSON.stringify({ type: 'subscribe', id: 1, channel }));
      else if (f.type === 'ping') ws.send('{"type":"pong"}');
      else if (f.type === 'ack' && f.id === 1) resolve();
      else if (f.type === 'message') {
        s.texts.push(text);
        if (s.texts.length === expect) resolveDone();
      }
    });
  });
  await subscribed;
  return s;
}

let stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const s of stops.reverse()) await s();
  stops = [];
});

describe('permessage-deflate: one compressed frame per publication', () => {
  it('builds a valid RFC 7692 frame once per payload, and none for what it cannot shrink', () => {
    const payload = Buffer.from(JSON.stringify({ type: 'message', channel: 'd:x', data: { text: 'hello '.repeat(100) } }));
    const f = deflatedFrame(payload)!;
    expect(f[0]).toBe(0xc1); // FIN + RSV1 (compressed) + text
    const len7 = f[1]! & 0x7f;
    const head = len7 < 126 ? 2 : 4;
    expect(inflateRawSync(Buffer.concat([f.subarray(head), TAIL]), { finishFlush: constants.Z_SYNC_FLUSH }).equals(payload)).toBe(true);
    // The write path compresses a payload once for every connection taking it in a pass.
    const fanout = new FanoutEncoder();
    const once = fanout.memo(DEFLATED_FRAME_SLOT, payload)!;
    expect(once.equals(f)).toBe(true);
    expect(fanout.memo(DEFLATED_FRAME_SLOT, payload)).toBe(once);
    expect(fanout.built(DEFLATED_FRAME_SLOT)).toBe(1);
    expect(deflatedFrame(Buffer.from('{"a":1}'))).toBeNull();
  });

  it('shares frames only with connections that negotiated no context takeover and a full window', () => {
    expect(sharedDeflateAllowed('permessage-deflate; server_no_context_takeover; client_no_context_takeover')).toBe(true);
    expect(sharedDeflateAllowed('permessage-deflate; server_no_context_takeover; server_max_window_bits=15')).toBe(true);
    expect(sharedDeflateAllowed('permessage-deflate; server_no_context_takeover; server_max_window_bits=10')).toBe(false);
    expect(sharedDeflateAllowed('permessage-deflate; client_max_window_bits=15')).toBe(false);
    expect(sharedDeflateAllowed(undefined)).toBe(false);
  });

  it('1,000 deflate clients and plain clients receive every one of 100 publications, identical, each compressed once', async () => {
    const gw = await startGateway({ namespaces: { d: open }, compression: { permessageDeflate: true, threshold: 256 }, limits: { commandsPerSecond: 100_000, connectionsPerIpPerSecond: 100_000 } });
    stops.push(() => gw.close());
    const N = Number(process.env.DEFLATE_CLIENTS ?? 1000);
    const PUBS = 100;
    const subs: Sub[] = [];
    const progress = process.env.DEFLATE_DEBUG ? setInterval(() => console.log('subs', subs.length, 'received', subs.reduce((a, s) => a + s.texts.length, 0)), 3000) : undefined;
    stops.push(() => clearInterval(progress));
    for (let i = 0; i < N; i += 50) {
      subs.push(...await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, k) => subscriber(gw.wsUrl, `z${i + k}`, 'd:doc', true, PUBS))));
    }
    const plain = await Promise.all([0, 1, 2].map((k) => subscriber(gw.wsUrl, `p${k}`, 'd:doc', false, PUBS)));
    // A client that asks for a smaller server window still gets every message (sent plain).
    const narrow = await subscriber(gw.wsUrl, 'narrow', 'd:doc', { serverMaxWindowBits: 10 }, PUBS);
    stops.push(() => { for (const s of [...subs, ...plain, narrow]) s.ws.terminate(); });
    for (const s of subs) expect(s.ws.extensions).toContain('permessage-deflate');
    expect(plain[0]!.ws.extensions).toBe('');

    const publisher: RawClient = await connectAuthed(gw.wsUrl, 'publisher');
    stops.push(() => publisher.close());
    const compressed = () => gw.node.outbox.encoder.built(DEFLATED_FRAME_SLOT);
    const before = compressed();
    const readBefore = [subs[0]!.socket!.bytesRead, plain[0]!.socket!.bytesRead];
    for (let n = 0; n < PUBS; n++) {
      // A JSON document of ~1.5 KB with a little change per publication; every 10th one small (sent plain).
      const data = n % 10 === 9 ? { n } : { n, rows: Array.from({ length: 30 }, (_, i) => ({ id: i, name: `row ${i}`, value: i === n % 30 ? n : 0 })) };
      const ack = await publisher.request({ type: 'publish', channel: 'd:doc', data });
      expect(ack.type).toBe('ack');
    }
    await Promise.all([...subs, ...plain, narrow].map((s) => s.done));

    const reference = plain[0]!.texts;
    expect(reference).toHaveLength(PUBS);
    expect(reference.map((t) => JSON.parse(t).data.n)).toEqual(Array.from({ length: PUBS }, (_, n) => n));
    for (const s of [...subs, ...plain, narrow]) expect(s.texts).toEqual(reference);
    // Each large publication was compressed once for all 1,000 deflate subscribers.
    expect(compressed() - before).toBe(PUBS - PUBS / 10);
    // And it went compressed: a deflate subscriber read far fewer bytes than a plain one.
    const deflateBytes = subs[0]!.socket!.bytesRead - readBefore[0]!;
    const plainBytes = plain[0]!.socket!.bytesRead - readBefore[1]!;
    expect(deflateBytes).toBeLessThan(plainBytes / 2);
  }, 600_000);

  it('without compression configured, a client offering it gets plain frames', async () => {
    const gw = await startGateway({ namespaces: { d: open } });
    stops.push(() => gw.close());
    const s = await subscriber(gw.wsUrl, 'a', 'd:x', true, 1);
    stops.push(() => s.ws.terminate());
    expect(s.ws.extensions).toBe('');
    const pub = await connectAuthed(gw.wsUrl, 'b');
    stops.push(() => pub.close());
    await pub.request({ type: 'publish', channel: 'd:x', data: { text: 'x'.repeat(1000) } });
    await s.done;
    expect(JSON.parse(s.texts[0]!).data.text).toHaveLength(1000);
    expect(textFrame(Buffer.from('x'))[0]).toBe(0x81);
  });
});
