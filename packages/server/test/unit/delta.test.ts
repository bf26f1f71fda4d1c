import { afterEach, describe, expect, it } from 'vitest';
import { applyDelta } from 'fossil-delta';
import { unitGateway } from './test-transport.ts';
import { deltaStats } from '../../src/delta/channel-delta.ts';

/**
 * Delta compression in the hub, without sockets: which subscriber gets a delta and which
 * full data, and that the plain path computes nothing. End to end: `test/delta.test.ts`.
 */
let close: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of close.splice(0)) await c();
});

async function gateway() {
  const gw = await unitGateway({
    auth: { allowAnonymous: true },
    namespaces: { doc: { allowSubscribe: true, allowPublish: true, delta: 'fossil' }, chat: { allowSubscribe: true, allowPublish: true } },
  });
  close.push(() => gw.close());
  return gw;
}

async function login(gw: Awaited<ReturnType<typeof gateway>>, name: string) {
  const c = gw.connect();
  c.send({ type: 'auth', name });
  await c.t.next((f) => f.type === 'auth_success');
  return c;
}

const big = (n: number) => ({ n, rows: Array.from({ length: 30 }, (_, i) => ({ i, text: 'unchanged between versions' })) });
const messages = (c: { t: { frames: any[] } }, channel: string) => c.t.frames.filter((f) => f.type === 'message' && f.channel === channel);
const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('unit: delta compression', () => {
  it('deltas apply to the previous message\'s data; a subscriber that leaves and comes back starts with full data', async () => {
    const gw = await gateway();
    const pub = await login(gw, 'pub');
    const a = await login(gw, 'ann');
    expect(await a.request({ type: 'subscribe', channel: 'doc:1', delta: 'fossil' })).toMatchObject({ type: 'ack', delta: true });
    for (const n of [1, 2, 3]) await pub.request({ type: 'publish', channel: 'doc:1', data: big(n) });
    await a.t.next(() => messages(a, 'doc:1').length === 3);
    const [m1, m2, m3] = messages(a, 'doc:1');
    expect(m1.delta).toBeUndefined();
    const d2 = Buffer.from(applyDelta(bytes(m1.data), Buffer.from(m2.data, 'latin1')));
    expect(JSON.parse(d2.toString())).toEqual(big(2));
    expect(JSON.parse(Buffer.from(applyDelta(d2, Buffer.from(m3.data, 'latin1'))).toString())).toEqual(big(3));
    expect(await a.request({ type: 'unsubscribe', channel: 'doc:1' })).toMatchObject({ type: 'ack' });
    await pub.request({ type: 'publish', channel: 'doc:1', data: big(4) }); // missed
    expect(await a.request({ type: 'subscribe', channel: 'doc:1', delta: 'fossil' })).toMatchObject({ type: 'ack', delta: true });
    for (const n of [5, 6]) await pub.request({ type: 'publish', channel: 'doc:1', data: big(n) });
    await a.t.next(() => messages(a, 'doc:1').length === 5);
    expect(messages(a, 'doc:1').slice(3).map((m) => m.delta)).toEqual([undefined, true]);
    expect(messages(a, 'doc:1')[3].data).toEqual(big(5));
  });

  it('sends the worked example of docs/protocol.md byte for byte', async () => {
    const gw = await gateway();
    const pub = await login(gw, 'pub');
    const a = await login(gw, 'ann');
    await a.request({ type: 'subscribe', channel: 'doc:example', delta: 'fossil' });
    for (const version of [1, 2]) await pub.request({ type: 'publish', channel: 'doc:example', data: { version, text: 'the same long sentence in both versions of the document' } });
    await a.t.next(() => messages(a, 'doc:example').length === 2);
    expect(messages(a, 'doc:example')[1]).toMatchObject({ delta: true, data: '1E\nC:{"version":212@C,hSETk;' });
  });

  it('sends full data when the delta would not be smaller', async () => {
    const gw = await gateway();
    const pub = await login(gw, 'pub');
    const a = await login(gw, 'ann');
    await a.request({ type: 'subscribe', channel: 'doc:small', delta: 'fossil' });
    for (const data of ['x', 'y', 'z', big(1), big(2)]) await pub.request({ type: 'publish', channel: 'doc:small', data });
    await a.t.next(() => messages(a, 'doc:small').length === 5);
    expect(messages(a, 'doc:small').map((m) => m.delta)).toEqual([undefined, undefined, undefined, undefined, true]);
    expect(messages(a, 'doc:small').slice(0, 4).map((m) => m.data)).toEqual(['x', 'y', 'z', big(1)]);
  });

  it('computes nothing for plain subscribers, nor once the last delta subscriber left the channel', async () => {
    const gw = await gateway();
    const pub = await login(gw, 'pub');
    const plain = await login(gw, 'bob');
    const d = await login(gw, 'ann');
    await plain.request({ type: 'subscribe', channel: 'doc:mixed' });
    await plain.request({ type: 'subscribe', channel: 'chat:plain' });
    await d.request({ type: 'subscribe', channel: 'doc:mixed', delta: 'fossil' });
    deltaStats.computed = 0;
    for (const n of [1, 2, 3]) {
      await pub.request({ type: 'publish', channel: 'doc:mixed', data: big(n) });
      await pub.request({ type: 'publish', channel: 'chat:plain', data: big(n) });
    }
    await plain.t.next(() => messages(plain, 'doc:mixed').length === 3 && messages(plain, 'chat:plain').length === 3);
    expect(deltaStats.computed).toBe(2);
    expect([...messages(plain, 'doc:mixed'), ...messages(plain, 'chat:plain')].every((m) => m.delta === undefined)).toBe(true);
    await d.request({ type: 'unsubscribe', channel: 'doc:mixed' });
    for (const n of [4, 5]) await pub.request({ type: 'publish', channel: 'doc:mixed', data: big(n) });
    await plain.t.next(() => messages(plain, 'doc:mixed').length === 5);
    expect(deltaStats.computed).toBe(2);
  });
});
