import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, token } from '../../server/test/helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.ts';
import { NAMESPACES, closeClients, makeClient, until } from './helpers.ts';

// The SDK's filters: `subscribe(channel, {filter})` gets only the matching publications live,
// and on a reconnect recovers exactly the matching ones it missed, even when the server cut
// the replay (a small limits.maxReplayBytes) and the SDK pages the rest with filtered `history`.
type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
let proxy: TcpProxy;

beforeAll(async () => {
  gw = await startGateway({ namespaces: NAMESPACES, limits: { maxReplayBytes: 2048 } });
  proxy = await startTcpProxy(Number(new URL(gw.url).port));
});
afterEach(() => closeClients());
afterAll(async () => {
  await proxy.close();
  await gw.close();
});

const hot = (n: number) => n % 3 === 0;

describe('subscribe with a filter', () => {
  it('live, then a recovery paged by the SDK: exactly the matching publications, in order, once', async () => {
    const channel = 'chat:filtered';
    const c = makeClient(proxy.wsUrl, { token: await token('watcher') });
    const publisher = makeClient(gw.wsUrl, { token: await token('pub') });
    const room = c.subscribe<{ n: number; pad?: string }>(channel, { filter: 'kind == "hot" || n >= 1000' });
    const got: number[] = [];
    const tags: Array<Record<string, string> | undefined> = [];
    const gaps: unknown[] = [];
    room.on('message', (m) => {
      got.push(m.data.n);
      tags.push(m.tags);
    });
    room.on('gap', (g) => gaps.push(g));
    await room.ready();
    const publish = (n: number, pad = '') => publisher.publish(channel, { n, pad }, { tags: { kind: hot(n) ? 'hot' : 'cold', n: String(n) } });
    for (let n = 0; n < 9; n++) await publish(n);
    await waitFor(() => got.length === 3, 5000, 'the live matching ones');
    expect(got).toEqual([0, 3, 6]);
    expect(tags[1]).toEqual({ kind: 'hot', n: '3' });

    // Away while 60 publications of 400 bytes are made: the replay (about 24 KB) is cut at 2 KB.
    proxy.refuse(true);
    proxy.cut();
    await until(c, 'disconnected');
    for (let n = 9; n < 69; n++) await publish(n, 'x'.repeat(400));
    proxy.refuse(false);
    await room.ready();
    await publish(1000);
    await waitFor(() => got.includes(1000), 20_000, 'the live one after the recovery');
    const want = [...Array.from({ length: 69 }, (_, n) => n).filter(hot), 1000];
    expect(got).toEqual(want);
    expect(gaps).toEqual([]);
    await expect(publisher.publish(channel, 1, { tags: { 'bad name': 'x' } })).rejects.toThrow(/tag name "bad name"/);
    const page = await c.history(channel, { limit: 5, filter: 'kind == "hot"' });
    expect(page.publications.map((p) => (p.data as { n: number }).n)).toEqual([0, 3]);
    expect(page.next?.offset).toBe(5);
  });
});
