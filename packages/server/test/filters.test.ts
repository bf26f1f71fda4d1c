import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectAuthed, startGateway, type RawClient } from './helpers.ts';

/**
 * Publication tags and subscribe filters end to end (a real gateway, real WebSockets, the
 * server API): live delivery, recovery with and without an ack, rewind, `history` pages and
 * `POST /api/history` all apply the same filter; a filter that does not parse is refused
 * naming the position.
 */
const KEY = 'filters-api-key-0123456789';
type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
const clients: RawClient[] = [];
const FILTER = 'symbol in ["AAPL", "MSFT"] && priority >= 2';
/** Publication n's tags: symbols in turn, priority n % 4. */
const SYMBOLS = ['AAPL', 'MSFT', 'GOOG'];
const tagsOf = (n: number) => ({ symbol: SYMBOLS[n % 3]!, priority: String(n % 4) });
const matches = (n: number) => ['AAPL', 'MSFT'].includes(tagsOf(n).symbol) && n % 4 >= 2;

async function client(user: string): Promise<RawClient> {
  const c = await connectAuthed(gw.wsUrl, user);
  clients.push(c);
  return c;
}

async function api(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.url}/api/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

const ns = (frames: any[], channel: string) => frames.filter((f) => f.type === 'message' && f.channel === channel).map((f) => f.data.n);

beforeAll(async () => {
  gw = await startGateway({
    apiKeys: [KEY],
    namespaces: {
      ticks: { history: { size: 1000, ttl: '1h' }, allowSubscribe: true, allowPublish: true, delta: 'fossil' },
      live: { allowSubscribe: true, allowPublish: true },
    },
  });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await gw.close();
});

describe('tags and filters', () => {
  it('live: a filtered subscriber gets exactly the matching publications, with their tags; an unfiltered one gets all', async () => {
    const filtered = await client('f1');
    const all = await client('a1');
    const pub = await client('p1');
    const ack = await filtered.request({ type: 'subscribe', channel: 'live:q', filter: FILTER, delta: 'fossil' });
    expect(ack.type).toBe('ack');
    expect((await all.request({ type: 'subscribe', channel: 'live:q' })).type).toBe('ack');
    for (let n = 0; n < 24; n++) expect((await pub.request({ type: 'publish', channel: 'live:q', data: { n }, tags: tagsOf(n) })).type).toBe('ack');
    // A last one both take: everything before it has arrived.
    await pub.request({ type: 'publish', channel: 'live:q', data: { n: 99 }, tags: { symbol: 'AAPL', priority: '9' } });
    await filtered.next((f) => f.type === 'message' && f.data.n === 99);
    await all.next((f) => f.type === 'message' && f.data.n === 99);
    const want = Array.from({ length: 24 }, (_, n) => n).filter(matches);
    expect(want.length).toBeGreaterThan(3);
    expect(ns(filtered.frames, 'live:q')).toEqual([...want, 99]);
    expect(ns(all.frames, 'live:q')).toEqual([...Array.from({ length: 24 }, (_, n) => n), 99]);
    expect(filtered.frames.find((f) => f.type === 'message' && f.data.n === want[0]).tags).toEqual(tagsOf(want[0]!));
    // On a namespace with deltas, a filtered subscription is not granted them (it skips publications).
    const d = await filtered.request({ type: 'subscribe', channel: 'ticks:d', filter: FILTER, delta: 'fossil' });
    expect(d.delta).toBe(false);
  });

  it('recovery (with an ack, and without one: paced messages) and rewind apply the filter; history keeps the tags', async () => {
    const pub = await client('p2');
    for (let n = 0; n < 30; n++) await pub.request({ type: 'publish', channel: 'ticks:r', data: { n }, tags: tagsOf(n) });
    const c = await client('r2');
    const first = await c.request({ type: 'subscribe', channel: 'ticks:r', since: { epoch: (await api('history', { channel: 'ticks:r', limit: 1 })).body.epoch, offset: 0 }, filter: FILTER });
    expect(first.recovered).toBe(true);
    const want = Array.from({ length: 30 }, (_, n) => n).filter(matches);
    expect(first.publications.map((p: any) => p.data.n)).toEqual(want);
    expect(first.publications[0].tags).toEqual(tagsOf(want[0]!));
    // Without an id the replay goes out as messages: filtered too.
    const silent = await client('r3');
    silent.send({ type: 'subscribe', channel: 'ticks:r', since: { epoch: first.epoch, offset: 10 }, filter: FILTER });
    await pub.request({ type: 'publish', channel: 'ticks:r', data: { n: 99 }, tags: { symbol: 'MSFT', priority: '2' } });
    await silent.next((f) => f.type === 'message' && f.data.n === 99);
    expect(ns(silent.frames, 'ticks:r')).toEqual([...want.filter((n) => n >= 10), 99]);
    // Rewind: of the last 10 publications (20..29 and 99), those that match.
    const rw = await (await client('r4')).request({ type: 'subscribe', channel: 'ticks:r', rewind: 10, filter: FILTER });
    expect(rw.publications.map((p: any) => p.data.n)).toEqual([...want.filter((n) => n >= 21), 99]);
  });

  it('history pages filter what they read and say where the next page starts; the server API too', async () => {
    const pub = await client('p5');
    for (let n = 0; n < 12; n++) await pub.request({ type: 'publish', channel: 'ticks:h', data: { n }, tags: tagsOf(n) });
    const c = await client('h5');
    const page = await c.request({ type: 'history', channel: 'ticks:h', limit: 6, filter: FILTER });
    expect(page.publications.map((p: any) => p.data.n)).toEqual([2, 3].filter(matches));
    expect(page.next).toEqual({ epoch: page.epoch, offset: 6 });
    expect(page.more).toBe(true);
    const rest = await c.request({ type: 'history', channel: 'ticks:h', since: page.next, limit: 100, filter: FILTER });
    expect(rest.publications.map((p: any) => p.data.n)).toEqual(Array.from({ length: 12 }, (_, n) => n).filter((n) => n >= 6 && matches(n)));
    // Nothing matching in a page: an empty page, and where to go on.
    const none = await c.request({ type: 'history', channel: 'ticks:h', limit: 2, filter: 'symbol == "NONE"' });
    expect([none.publications, none.next.offset, none.more]).toEqual([[], 2, true]);
    // The server API: tags on publish, filter on history.
    expect((await api('publish', { channel: 'ticks:h', data: { n: 12 }, tags: { symbol: 'AAPL', priority: '7' } })).status).toBe(200);
    const r = await api('history', { channel: 'ticks:h', since: { epoch: page.epoch, offset: 9 }, filter: 'priority > 5' });
    expect(r.status).toBe(200);
    expect(r.body.publications).toMatchObject([{ data: { n: 12 }, tags: { symbol: 'AAPL', priority: '7' } }]);
    expect(r.body.next).toEqual({ epoch: page.epoch, offset: 13 });
  });

  it('a filter that does not parse, and bad tags, are refused naming the position and the field', async () => {
    const c = await client('e6');
    const bad = await c.request({ type: 'subscribe', channel: 'live:e', filter: 'symbol = "AAPL"' });
    expect(bad).toMatchObject({ type: 'error', code: 'bad_request', message: 'filter: unexpected character "=" at position 7' });
    expect((await c.request({ type: 'subscribe', channel: 'live:e', filter: 'x'.repeat(1025) })).message).toMatch(/filter must be a string of at most 1024/);
    expect((await c.request({ type: 'history', channel: 'ticks:e', filter: '(a == 1' })).message).toBe('filter: expected ), found the end at position 7');
    expect((await c.request({ type: 'publish', channel: 'live:e', data: 1, tags: { n: 1 } })).message).toMatch(/publish: tag n: a string/);
    const api1 = await api('history', { channel: 'ticks:e', filter: 'a == ' });
    expect(api1).toMatchObject({ status: 400, body: { error: { code: 'bad_request', field: 'filter', message: 'filter: expected a value (a "string" or a number) at position 5' } } });
    const api2 = await api('publish', { channel: 'ticks:e', data: 1, tags: { 'bad name': 'x' } });
    expect(api2).toMatchObject({ status: 400, body: { error: { code: 'bad_request', field: 'tags' } } });
    // The connection is still usable, and the subscribe without the bad filter works.
    expect((await c.request({ type: 'subscribe', channel: 'live:e', filter: 'a == 1' })).type).toBe('ack');
  });
});
