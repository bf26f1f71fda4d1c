import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createDelta } from 'fossil-delta';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../../../test/support/ports.ts';
import type { Publication, SwitchboardError } from '../src/index.ts';
import { closeClients, makeClient } from './helpers.ts';

/**
 * The SDK facing deltas it cannot apply. A real gateway never sends one, so a scripted
 * server on a real socket does: it answers `auth` and `subscribe` and sends the frames the
 * test gives it. The SDK must never deliver what a bad delta would produce, and must
 * subscribe again (recovering from its position when the channel has history).
 */
let wss: WebSocketServer;
let url: string;
const received: any[] = [];
let socket: WebSocket | undefined;
let onSubscribe: (frame: any, ws: WebSocket) => void = () => {};

beforeAll(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`;
  wss.on('connection', (ws) => {
    socket = ws;
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      received.push(f);
      if (f.type === 'auth') ws.send(JSON.stringify({ type: 'auth_success', client: 'c_1', session: 's_1', user: 'ann', ping: 0, permissions: { subscribe: [], publish: [] }, resumed: false }));
      if (f.type === 'subscribe') onSubscribe(f, ws);
    });
  });
});
afterEach(() => {
  closeClients();
  received.length = 0;
});
afterAll(() => new Promise<void>((resolve) => wss.close(() => resolve())));

const text = (v: unknown) => Buffer.from(JSON.stringify(v));
/** A delta from `a` to `b` as the protocol carries it (one character per byte). */
const deltaOf = (a: unknown, b: unknown) => Buffer.from(createDelta(text(a), text(b))).toString('latin1');
const doc = (n: number) => ({ version: n, body: 'a document long enough for a delta to be worth it '.repeat(4) });
const message = (channel: string, n: number, extra: Record<string, unknown>) => JSON.stringify({ type: 'message', channel, ...extra, ts: n });

describe('SDK: a delta it cannot apply', () => {
  it('history channel: a corrupt delta (checksum) is not delivered; the SDK resubscribes from its position and the replay brings the data', async () => {
    const channel = 'doc:a';
    const subscribes: any[] = [];
    onSubscribe = (f, ws) => {
      subscribes.push(f);
      if (subscribes.length === 1) {
        ws.send(JSON.stringify({ type: 'ack', id: f.id, epoch: 'e1', offset: 0, delta: true }));
        ws.send(message(channel, 1, { offset: 1, epoch: 'e1', data: doc(1) }));
        const good = deltaOf(doc(1), doc(2));
        ws.send(message(channel, 2, { offset: 2, epoch: 'e1', data: good, delta: true }));
        // A delta whose inserted text was altered on the way: what it builds fails its checksum.
        const sound = deltaOf(doc(1), doc(3));
        const altered = sound.replace('version', 'versiom');
        expect(altered).not.toBe(sound);
        ws.send(message(channel, 3, { offset: 3, epoch: 'e1', data: altered, delta: true }));
        ws.send(message(channel, 4, { offset: 4, epoch: 'e1', data: deltaOf(doc(3), doc(4)), delta: true })); // dropped: no base any more
      } else {
        ws.send(JSON.stringify({ type: 'ack', id: f.id, epoch: 'e1', offset: 4, delta: true, recovered: true, publications: [3, 4].map((n) => ({ channel, offset: n, epoch: 'e1', data: doc(n), ts: n })) }));
        ws.send(message(channel, 5, { offset: 5, epoch: 'e1', data: doc(5) }));
        ws.send(message(channel, 6, { offset: 6, epoch: 'e1', data: deltaOf(doc(5), doc(6)), delta: true }));
      }
    };
    const client = makeClient(url, { token: 't' });
    const errors: SwitchboardError[] = [];
    client.on('error', ({ error }) => errors.push(error as SwitchboardError));
    const sub = client.subscribe(channel, { delta: 'fossil' });
    const got: Publication[] = [];
    const recovered: number[] = [];
    sub.on('message', (m) => got.push(m));
    sub.on('recovered', ({ count }) => recovered.push(count));
    await waitFor(() => got.length === 6, 5000, 'six messages');
    expect(got.map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6].map(doc));
    expect(got.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(got.some((m) => 'delta' in m)).toBe(false);
    expect(recovered).toEqual([2]);
    expect(errors).toEqual([]);
    expect(subscribes[0]).toMatchObject({ channel, delta: 'fossil' });
    expect(subscribes[1]).toMatchObject({ channel, delta: 'fossil', since: { epoch: 'e1', offset: 2 } });
    const order = received.map((f) => f.type).filter((t) => t === 'subscribe' || t === 'unsubscribe');
    expect(order).toEqual(['subscribe', 'unsubscribe', 'subscribe']);
    expect(sub.delta).toBe(true);
  });

  it('channel without history: a delta with no base is not delivered; the client reports delta_failed and resubscribes', async () => {
    const channel = 'live:a';
    let subscribes = 0;
    onSubscribe = (f, ws) => {
      subscribes++;
      ws.send(JSON.stringify({ type: 'ack', id: f.id, delta: true }));
      if (subscribes === 1) ws.send(message(channel, 1, { data: deltaOf(doc(0), doc(1)), delta: true }));
      else ws.send(message(channel, 2, { data: doc(2) }));
    };
    const client = makeClient(url, { token: 't' });
    const errors: SwitchboardError[] = [];
    client.on('error', ({ error }) => errors.push(error as SwitchboardError));
    const sub = client.subscribe(channel, { delta: 'fossil' });
    const got: Publication[] = [];
    sub.on('message', (m) => got.push(m));
    await waitFor(() => got.length === 1, 5000, 'the full message after resubscribing');
    expect(got.map((m) => m.data)).toEqual([doc(2)]);
    expect(errors.map((e) => e.code)).toEqual(['delta_failed']);
    expect(errors[0]!.message).toMatch(/live:a: a delta could not be applied \(no previous message/);
    expect(subscribes).toBe(2);
    expect(socket?.readyState).toBe(1); // the connection itself is kept
  });
});
