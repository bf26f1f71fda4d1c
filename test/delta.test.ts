import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, connectAuthed, startGateway, token } from '../packages/server/test/helpers.ts';
import { closeClients, makeClient } from '../packages/client/test/helpers.ts';
import { deltaStats } from '../packages/server/src/delta/channel-delta.ts';
import { waitFor } from './support/ports.ts';
import { documentAt } from './support/documents.ts';
import type { Publication, Switchboard } from '../packages/client/src/index.ts';

/**
 * Delta compression end to end: a real gateway, the real SDK, raw WebSocket clients that
 * count the bytes on the wire.
 */
const OPEN = { allowSubscribe: true, allowPublish: true };
const NAMESPACES = {
  doc: { ...OPEN, delta: 'fossil' as const, history: { size: 1000, ttl: '1h' } },
  live: { ...OPEN, delta: 'fossil' as const },
  plain: { ...OPEN, history: { size: 1000, ttl: '1h' } },
  '#': { delta: 'fossil' as const },
};

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway({ namespaces: NAMESPACES });
});
afterEach(() => closeClients());
afterAll(() => gw.close());

/** A raw client that also counts the bytes of every text frame it receives. */
async function rawCounting(user: string): Promise<RawClient & { bytes: number }> {
  const c = Object.assign(await connectAuthed(gw.wsUrl, user), { bytes: 0 });
  c.ws.on('message', (data: Buffer) => { c.bytes += data.length; });
  return c;
}

const messagesOf = (c: RawClient, channel: string) => c.frames.filter((f) => f.type === 'message' && f.channel === channel);

async function sdkSubscriber(user: string, channel: string, delta: boolean): Promise<{ client: Switchboard; got: Publication[]; sub: ReturnType<Switchboard['subscribe']> }> {
  const client = makeClient(gw.wsUrl, { token: await token(user) });
  const sub = client.subscribe(channel, delta ? { delta: 'fossil' } : {});
  const got: Publication[] = [];
  sub.on('message', (m) => got.push(m));
  await sub.ready();
  return { client, got, sub };
}

async function publishAll(channel: string, from: number, to: number): Promise<void> {
  const writer = makeClient(gw.wsUrl, { token: await token('writer') });
  for (let n = from; n <= to; n++) await writer.publish(channel, documentAt(n));
}

describe('delta compression', () => {
  it('a delta subscriber and a plain one receive identical data; after the first message the wire carries deltas, computed once per publication', async () => {
    const channel = 'doc:identical';
    const withDelta = await sdkSubscriber('ann', channel, true);
    const plain = await sdkSubscriber('bob', channel, false);
    expect(withDelta.sub.delta).toBe(true);
    expect(plain.sub.delta).toBe(false);
    const rawDelta = await rawCounting('cid');
    expect(await rawDelta.request({ type: 'subscribe', channel, delta: 'fossil' })).toMatchObject({ type: 'ack', delta: true });
    const rawPlain = await rawCounting('dan');
    const plainAck = await rawPlain.request({ type: 'subscribe', channel });
    expect(plainAck.type).toBe('ack');
    expect('delta' in plainAck).toBe(false);
    rawDelta.bytes = rawPlain.bytes = 0;
    deltaStats.computed = 0;

    await publishAll(channel, 1, 100);
    await waitFor(() => withDelta.got.length === 100 && plain.got.length === 100, 20_000, '100 messages each');
    await waitFor(() => messagesOf(rawDelta, channel).length === 100 && messagesOf(rawPlain, channel).length === 100, 20_000, 'raw messages');

    const expected = Array.from({ length: 100 }, (_, i) => documentAt(i + 1));
    expect(withDelta.got.map((m) => m.data)).toEqual(expected);
    expect(plain.got.map((m) => m.data)).toEqual(expected);
    expect(withDelta.got.map((m) => m.offset)).toEqual(plain.got.map((m) => m.offset));
    expect(withDelta.got.some((m) => 'delta' in m)).toBe(false);

    const onWire = messagesOf(rawDelta, channel);
    expect(onWire[0].delta).toBeUndefined();
    expect(onWire[0].data).toEqual(documentAt(1));
    expect(onWire.slice(1).every((f) => f.delta === true && typeof f.data === 'string')).toBe(true);
    expect(messagesOf(rawPlain, channel).every((f) => f.delta === undefined)).toBe(true);
    // Two delta subscribers on this node: each delta was still computed once.
    expect(deltaStats.computed).toBe(99);
    // ~5.5 KB per plain message; a delta of one changed field is well under a tenth of it.
    expect(rawDelta.bytes * 10).toBeLessThan(rawPlain.bytes);
    rawDelta.close();
    rawPlain.close();
  });

  it('a late subscriber gets full data first, then deltas (a channel without history too)', async () => {
    const channel = 'live:late';
    const early = await sdkSubscriber('ann', channel, true);
    await publishAll(channel, 1, 5);
    await waitFor(() => early.got.length === 5);
    const late = await rawCounting('bob');
    expect(await late.request({ type: 'subscribe', channel, delta: 'fossil' })).toMatchObject({ type: 'ack', delta: true });
    const lateSdk = await sdkSubscriber('cid', channel, true);
    await publishAll(channel, 6, 9);
    await waitFor(() => messagesOf(late, channel).length === 4 && lateSdk.got.length === 4 && early.got.length === 9);
    const frames = messagesOf(late, channel);
    expect(frames[0].delta).toBeUndefined();
    expect(frames[0].data).toEqual(documentAt(6));
    expect(frames.slice(1).map((f) => f.delta)).toEqual([true, true, true]);
    expect(lateSdk.got.map((m) => m.data)).toEqual([6, 7, 8, 9].map(documentAt));
    expect(early.got.map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map(documentAt));
    late.close();
  });

  it('recovery (since), rewind and history carry full data; the first live message after them is full too', async () => {
    const channel = 'doc:recover';
    await publishAll(channel, 1, 6);
    const c = await rawCounting('ann');
    const epoch = (await c.request({ type: 'history', channel, limit: 1 })).publications[0].epoch;
    const ack = await c.request({ type: 'subscribe', channel, delta: 'fossil', since: { epoch, offset: 2 } });
    expect(ack).toMatchObject({ type: 'ack', delta: true, recovered: true });
    expect(ack.publications.map((p: any) => p.data)).toEqual([3, 4, 5, 6].map(documentAt));
    expect(ack.publications.some((p: any) => 'delta' in p)).toBe(false);
    const rewound = await rawCounting('bob');
    const rewindAck = await rewound.request({ type: 'subscribe', channel, delta: 'fossil', rewind: 2 });
    expect(rewindAck.publications.map((p: any) => p.data)).toEqual([5, 6].map(documentAt));
    const history = await c.request({ type: 'history', channel, since: { epoch, offset: 4 } });
    expect(history.publications.map((p: any) => p.data)).toEqual([5, 6].map(documentAt));

    await publishAll(channel, 7, 9);
    await waitFor(() => messagesOf(c, channel).length === 3 && messagesOf(rewound, channel).length === 3);
    for (const client of [c, rewound]) {
      const frames = messagesOf(client, channel);
      expect(frames[0]).toMatchObject({ offset: 7, data: documentAt(7) });
      expect(frames[0].delta).toBeUndefined();
      expect(frames.slice(1).map((f) => [f.offset, f.delta])).toEqual([[8, true], [9, true]]);
    }
    c.close();
    rewound.close();
  });

  it('the SDK recovers after a reconnect: the replay and the next message carry full data, then deltas resume', async () => {
    const channel = 'doc:reconnect';
    const reader = await sdkSubscriber('ann', channel, true);
    await publishAll(channel, 1, 3);
    await waitFor(() => reader.got.length === 3);
    reader.client.close();
    await publishAll(channel, 4, 6);
    reader.client.connect();
    await waitFor(() => reader.got.length === 6, 10_000, 'replayed');
    await publishAll(channel, 7, 10);
    await waitFor(() => reader.got.length === 10, 10_000, 'live again');
    expect(reader.got.map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(documentAt));
    expect(reader.got.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('personal channels: the explicit subscribe to the automatic #<user> subscription may ask for delta; sends then arrive as deltas after the next full one', async () => {
    const me = await rawCounting('pat');
    expect(await me.request({ type: 'subscribe', channel: '#pat', delta: 'fossil' })).toMatchObject({ type: 'ack', delta: true });
    const sender = await connectAuthed(gw.wsUrl, 'sam');
    for (let n = 1; n <= 4; n++) expect((await sender.request({ type: 'send', to: 'pat', data: documentAt(n) })).type).toBe('ack');
    await waitFor(() => messagesOf(me, '#pat').length === 4);
    const frames = messagesOf(me, '#pat');
    expect(frames[0]).toMatchObject({ offset: 1, data: documentAt(1) });
    expect(frames[0].delta).toBeUndefined();
    expect(frames.slice(1).map((f) => [f.offset, f.delta])).toEqual([[2, true], [3, true], [4, true]]);
    const reader = makeClient(gw.wsUrl, { token: await token('pat') });
    const sub = reader.subscribe('#pat', { delta: 'fossil', rewind: 2 });
    const got: Publication[] = [];
    sub.on('message', (m) => got.push(m));
    await sub.ready();
    for (let n = 5; n <= 7; n++) await sender.request({ type: 'send', to: 'pat', data: documentAt(n) });
    await waitFor(() => got.length === 5);
    expect(got.map((m) => m.data)).toEqual([3, 4, 5, 6, 7].map(documentAt));
    expect(sub.delta).toBe(true);
    me.close();
    sender.close();
  });

  it('a namespace without delta answers delta: false and sends full data; an unknown format is a bad_request', async () => {
    const c = await rawCounting('ann');
    expect(await c.request({ type: 'subscribe', channel: 'plain:x', delta: 'fossil' })).toMatchObject({ type: 'ack', delta: false });
    const bad = await c.request({ type: 'subscribe', channel: 'doc:x', delta: 'xdelta' });
    expect(bad).toMatchObject({ type: 'error', code: 'bad_request', message: 'subscribe: delta must be one of "fossil"' });
    const sdk = await sdkSubscriber('bob', 'plain:x', true);
    expect(sdk.sub.delta).toBe(false);
    await publishAll('plain:x', 1, 3);
    await waitFor(() => messagesOf(c, 'plain:x').length === 3 && sdk.got.length === 3);
    expect(messagesOf(c, 'plain:x').map((f) => [f.data, f.delta])).toEqual([1, 2, 3].map((n) => [documentAt(n), undefined]));
    expect(sdk.got.map((m) => m.data)).toEqual([1, 2, 3].map(documentAt));
    c.close();
  });
});
