import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, token } from '../../server/test/helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.ts';
import type { Publication } from '../src/index.ts';
import { NAMESPACES, closeClients, makeClient, record, until } from './helpers.ts';

// Issue 13, defect 3: a replay larger than limits.maxQueueBytes (4 MiB) used to close the
// client 3008 on every reconnect, so it could never catch up. Default limits here.
type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
let proxy: TcpProxy;

beforeAll(async () => {
  gw = await startGateway({ namespaces: NAMESPACES });
  proxy = await startTcpProxy(Number(new URL(gw.url).port));
});
afterEach(() => closeClients());
afterAll(async () => {
  await proxy.close();
  await gw.close();
});

const PAD = 'x'.repeat(60_000);

describe('a replay larger than the outbound queue', () => {
  it('80 publications of 60 KB missed while away are recovered completely, in order, once; live ones published during the paging follow them', async () => {
    const channel = 'chat:big-replay';
    const ch = gw.node.resolve(channel);
    const c = makeClient(proxy.wsUrl, { token: await token('returner') });
    const ev = record(c);
    const room = c.subscribe(channel);
    const got: Publication[] = [];
    const gaps: unknown[] = [];
    const recovered: number[] = [];
    room.on('message', (m) => got.push(m));
    room.on('gap', (g) => gaps.push(g));
    room.on('recovered', (r) => recovered.push(r.count));
    await room.ready();
    await gw.node.publish(ch, { n: 0 });
    await waitFor(() => got.length === 1, 5000, 'the first publication');

    // Away: the network is down while 80 × 60 KB (4.8 MB, more than maxQueueBytes) are published.
    proxy.refuse(true);
    proxy.cut();
    await until(c, 'disconnected');
    for (let n = 1; n <= 80; n++) await gw.node.publish(ch, { n, pad: PAD });

    // Back: as soon as the first replayed publication is delivered, 5 more are published live.
    // The replay is still being paged then (the subscription is not `subscribed` yet).
    const live: Array<Promise<unknown>> = [];
    let stateWhenLive: string | undefined;
    room.on('message', (m) => {
      if ((m.data as { n: number }).n !== 1) return;
      stateWhenLive = room.state;
      for (let n = 81; n <= 85; n++) live.push(gw.node.publish(ch, { n, live: true }));
    });
    proxy.refuse(false);
    await waitFor(() => got.length >= 86, 20_000, 'every publication');
    await Promise.all(live);
    await c.publish(channel, { n: 86 }); // a round trip: a late duplicate would have arrived by its message
    await waitFor(() => got.length >= 87, 5000, 'the last publication');

    expect(stateWhenLive).toBe('subscribing'); // the live ones really were published during the paging
    expect(got.map((m) => (m.data as { n: number }).n)).toEqual(Array.from({ length: 87 }, (_, n) => n));
    expect(got.map((m) => m.offset)).toEqual(Array.from({ length: 87 }, (_, i) => i + 1));
    expect(gaps).toEqual([]);
    expect(recovered).toEqual([80]);
    expect(ev.log.filter((l) => l.startsWith('disconnected'))).toHaveLength(1); // never closed 3008 while recovering
    expect(room.state).toBe('subscribed');
  });

  it('a connection lost in the middle of the paging resumes from the last publication delivered: complete, in order, once', async () => {
    const channel = 'chat:cut-replay';
    const ch = gw.node.resolve(channel);
    const c = makeClient(proxy.wsUrl, { token: await token('cutter') });
    const ev = record(c);
    const room = c.subscribe(channel);
    const got: number[] = [];
    room.on('message', (m) => got.push((m.data as { n: number }).n));
    room.on('gap', () => { throw new Error('unexpected gap'); });
    await room.ready();
    await gw.node.publish(ch, { n: 0 });
    await waitFor(() => got.length === 1, 5000, 'the first publication');
    proxy.refuse(true);
    proxy.cut();
    await until(c, 'disconnected');
    for (let n = 1; n <= 60; n++) await gw.node.publish(ch, { n, pad: PAD });
    // Cut again as soon as the first replayed publication is delivered (the replay is being paged).
    let cuts = 0;
    room.on('message', (m) => {
      const n = (m.data as { n: number }).n;
      if (n === 1 || n === 30) {
        cuts++;
        proxy.cut();
      }
    });
    proxy.refuse(false);
    await waitFor(() => got.length >= 61 && room.state === 'subscribed', 30_000, 'every publication');
    await c.publish(channel, { n: 61 });
    await waitFor(() => got.length >= 62, 5000, 'the live one');
    expect(cuts).toBe(2);
    expect(ev.count('connected')).toBeGreaterThanOrEqual(4);
    expect(got).toEqual(Array.from({ length: 62 }, (_, n) => n));
  }, 60_000);

  it('many channels to recover at once after a reconnect (6 × 1.5 MB, together twice maxQueueBytes) all complete', async () => {
    const channels = Array.from({ length: 6 }, (_, i) => `chat:many-${i}`);
    const c = makeClient(proxy.wsUrl, { token: await token('many') });
    const ev = record(c);
    const got = new Map<string, number[]>(channels.map((ch) => [ch, []]));
    const subs = channels.map((ch) => {
      const sub = c.subscribe(ch);
      sub.on('message', (m) => got.get(ch)!.push((m.data as { n: number }).n));
      sub.on('gap', () => { throw new Error(`unexpected gap on ${ch}`); });
      return sub;
    });
    await Promise.all(subs.map((s) => s.ready()));
    for (const ch of channels) await gw.node.publish(gw.node.resolve(ch), { n: 0 });
    await waitFor(() => channels.every((ch) => got.get(ch)!.length === 1), 5000, 'the first publications');
    proxy.refuse(true);
    proxy.cut();
    await until(c, 'disconnected');
    for (const ch of channels) for (let n = 1; n <= 25; n++) await gw.node.publish(gw.node.resolve(ch), { n, pad: PAD });
    proxy.refuse(false);
    await waitFor(() => channels.every((ch) => got.get(ch)!.length === 26), 20_000, 'every channel recovered');
    for (const ch of channels) expect(got.get(ch)).toEqual(Array.from({ length: 26 }, (_, n) => n));
    expect(ev.log.filter((l) => l.startsWith('disconnected'))).toHaveLength(1); // never closed 3008 while recovering
  }, 60_000);

  it('a stream reset while the replay is paged is reported as a gap, and live delivery goes on', async () => {
    const channel = 'chat:reset-replay';
    const ch = gw.node.resolve(channel);
    const c = makeClient(proxy.wsUrl, { token: await token('reset') });
    const room = c.subscribe(channel);
    const got: Publication[] = [];
    const gaps: Array<{ epoch: string; offset: number; previous: { epoch: string; offset: number } }> = [];
    room.on('message', (m) => got.push(m));
    room.on('gap', (g) => gaps.push(g));
    await room.ready();
    await gw.node.publish(ch, { n: 0 });
    await waitFor(() => got.length === 1, 5000, 'the first publication');
    proxy.refuse(true);
    proxy.cut();
    await until(c, 'disconnected');
    for (let n = 1; n <= 40; n++) await gw.node.publish(ch, { n, pad: PAD });

    // The stream is lost (a new epoch) right after the first page was delivered.
    room.on('message', (m) => {
      if ((m.data as { n: number }).n !== 1) return;
      void gw.node.history.remove(channel).then(() => gw.node.publish(ch, { n: 'new epoch' }));
    });
    proxy.refuse(false);
    await waitFor(() => got.some((m) => (m.data as { n: unknown }).n === 'new epoch'), 20_000, 'the live publication of the new epoch');
    expect(room.state).toBe('subscribed');
    const before = got[0]!.epoch;
    const offsets = got.filter((m) => m.epoch === before).map((m) => m.offset!);
    expect(offsets).toEqual([...new Set(offsets)].sort((a, b) => a - b)); // in order, never twice
    expect(offsets.length).toBeLessThan(41); // the replay could not be completed…
    expect(gaps[0]).toMatchObject({ previous: { epoch: before, offset: offsets.at(-1) }, epoch: before, offset: 41 }); // …and says so
    const now = got.at(-1)!.epoch;
    expect(now).not.toBe(before);
    expect(gaps.at(-1)).toMatchObject({ epoch: now }); // the reset stream is reported before its first message
  });
});
