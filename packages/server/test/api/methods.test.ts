import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwitchboardApi, SwitchboardApiError } from '@switchboard/api-client';
import { RawClient, connectAuthed, startGateway } from '../helpers.ts';

const KEY = 'api-key-0123456789abcdef';
type Gateway = Awaited<ReturnType<typeof startGateway>>;

let gw: Gateway;
let api: SwitchboardApi;
const clients: RawClient[] = [];

async function client(user: string, channels: string[] = []): Promise<RawClient> {
  const c = await connectAuthed(gw.wsUrl, user, { channels: ['*'] });
  clients.push(c);
  for (const channel of channels) expect((await c.request({ type: 'subscribe', channel })).type).toBe('ack');
  return c;
}

const rejection = async (p: Promise<unknown>): Promise<SwitchboardApiError> => {
  const err = await p.then(() => { throw new Error('expected the call to fail'); }, (e) => e);
  expect(err).toBeInstanceOf(SwitchboardApiError);
  return err as SwitchboardApiError;
};

beforeAll(async () => {
  gw = await startGateway({
    apiKeys: [KEY],
    namespaces: {
      '': {},
      chat: { history: { size: 100, ttl: '1h' }, presence: true },
      news: {},
    },
  });
  api = new SwitchboardApi({ url: gw.url, apiKey: KEY });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await gw.close();
});

describe('publish', () => {
  it('stores, answers {epoch, offset} and delivers to subscribers', async () => {
    const c = await client('pub-a', ['chat:pub']);
    const r1 = await api.publish('chat:pub', { text: 'one' });
    const r2 = await api.publish('chat:pub', { text: 'two' });
    expect(r1).toEqual({ epoch: expect.any(String), offset: 1, duplicate: false });
    expect(r2).toEqual({ epoch: r1.epoch, offset: 2, duplicate: false });
    const m = await c.next((f) => f.type === 'message' && f.offset === 2);
    expect(m).toMatchObject({ channel: 'chat:pub', epoch: r1.epoch, data: { text: 'two' } });
    expect(m.from).toBeUndefined();
  });

  it('an idempotencyKey seen before is not stored or delivered twice', async () => {
    const c = await client('pub-b', ['chat:idem']);
    const first = await api.publish('chat:idem', 'x', { idempotencyKey: 'k-1' });
    const again = await api.publish('chat:idem', 'x', { idempotencyKey: 'k-1' });
    expect(again).toEqual({ epoch: first.epoch, offset: first.offset, duplicate: true });
    await api.publish('chat:idem', 'marker');
    await c.next((f) => f.type === 'message' && f.data === 'marker');
    expect(c.frames.filter((f) => f.type === 'message' && f.data === 'x')).toHaveLength(1);
  });

  it('channels without history answer without a position', async () => {
    const c = await client('pub-c', ['news:flash']);
    expect(await api.publish('news:flash', null)).toEqual({ duplicate: false });
    expect(await c.next((f) => f.type === 'message' && f.channel === 'news:flash')).toMatchObject({ data: null });
  });

  it('an unknown namespace is 404 unknown_channel; a malformed name is 400 naming channel', async () => {
    const e1 = await rejection(api.publish('nope:x', 1));
    expect([e1.status, e1.code]).toEqual([404, 'unknown_channel']);
    expect(e1.message).toContain('nope');
    const e2 = await rejection(api.publish('chat:with space', 1));
    expect([e2.status, e2.code, e2.field]).toEqual([400, 'bad_request', 'channel']);
    expect(e2.message).toMatch(/^channel: /);
  });

  it('a storage failure is a temporary 503 with Retry-After, and nothing is delivered', async () => {
    const c = await client('pub-d', ['chat:broken']);
    const history = gw.node.history;
    const append = history.append;
    history.append = async () => { throw new Error('disk is gone'); };
    try {
      const res = await fetch(`${gw.url}/api/publish`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ channel: 'chat:broken', data: 'lost?' }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toEqual({ error: { code: 'internal', message: expect.stringContaining('retry'), temporary: true } });
    } finally {
      history.append = append;
    }
    await api.publish('chat:broken', 'after');
    await c.next((f) => f.type === 'message' && f.data === 'after');
    expect(c.frames.some((f) => f.data === 'lost?')).toBe(false);
  });
});

describe('broadcast', () => {
  it('publishes to every channel and answers per channel', async () => {
    const c = await client('bc-a', ['chat:b1', 'news:b2']);
    const r = await api.broadcast(['chat:b1', 'news:b2'], { hello: 1 });
    expect(r.results).toEqual([
      { channel: 'chat:b1', epoch: expect.any(String), offset: 1, duplicate: false },
      { channel: 'news:b2', duplicate: false },
    ]);
    await c.next((f) => f.type === 'message' && f.channel === 'chat:b1');
    await c.next((f) => f.type === 'message' && f.channel === 'news:b2');
  });

  it('checks every name first: one bad channel publishes nothing and names its index', async () => {
    const e = await rejection(api.broadcast(['chat:b3', 'bad channel'], 1));
    expect([e.status, e.field]).toEqual([400, 'channels.1']);
    const e2 = await rejection(api.broadcast(['chat:b3', 'nope:x'], 1));
    expect(e2.status).toBe(404);
    expect((await api.history('chat:b3')).offset).toBe(0);
    expect((await rejection(api.broadcast([], 1))).field).toBe('channels');
  });
});

describe('send', () => {
  it('publishes to the personal channel: online and (from history) offline users get it', async () => {
    const c = await client('send-a', ['#send-a']);
    const r = await api.send('send-a', { note: 'hi' });
    expect(r).toEqual({ epoch: expect.any(String), offset: 1, duplicate: false });
    expect(await c.next((f) => f.type === 'message' && f.channel === '#send-a')).toMatchObject({ data: { note: 'hi' }, offset: 1 });
    await api.send('send-offline', 'while away');
    const later = await client('send-offline');
    const ack = await later.request({ type: 'subscribe', channel: '#send-offline', since: { epoch: (await api.history('#send-offline')).epoch, offset: 0 } });
    expect(ack.publications.map((p: any) => p.data)).toEqual(['while away']);
  });

  it('a bad user id is 400 naming user', async () => {
    const e = await rejection(api.send('no spaces allowed', 1));
    expect([e.status, e.field]).toEqual([400, 'user']);
  });
});

describe('disconnect', () => {
  it('closes every connection of the user with 3503 forced by default', async () => {
    const a = await client('dc-a');
    const b = await client('dc-a');
    const other = await client('dc-other');
    await api.disconnect('dc-a');
    expect(await a.waitClose()).toBe(3503);
    expect(await b.waitClose()).toBe(3503);
    expect(a.frames.at(-1)).toEqual({ type: 'disconnect', code: 3503, reason: 'forced' });
    await other.roundtrip();
    expect(other.closeCode).toBeUndefined();
  });

  it('only one session, with a custom code and reason', async () => {
    const a = await client('dc-b');
    const b = await client('dc-b');
    const session = a.frames.find((f) => f.type === 'auth_success').session;
    await api.disconnect('dc-b', { session, code: 4501, reason: 'banned' });
    expect(await a.waitClose()).toBe(4501);
    expect(a.frames.at(-1)).toMatchObject({ type: 'disconnect', code: 4501, reason: 'banned' });
    await b.roundtrip();
    expect(b.closeCode).toBeUndefined();
  });

  it('a code outside 3000-4999 is 400 naming code', async () => {
    const e = await rejection(api.disconnect('dc-c', { code: 1000 }));
    expect([e.status, e.field]).toEqual([400, 'code']);
  });
});

describe('unsubscribe, presence, channels, info, history', () => {
  it('unsubscribe removes the user from the channel: presence drops it and publications stop', async () => {
    const a = await client('us-a', ['chat:us']);
    const b = await client('us-b', ['chat:us']);
    const b2 = await client('us-b', ['chat:us']);
    expect((await api.presence('chat:us')).presence).toEqual({
      'us-a': { user: 'us-a', connections: 1 },
      'us-b': { user: 'us-b', connections: 2 },
    });
    await api.unsubscribe('us-a', 'chat:us');
    expect(Object.keys((await api.presence('chat:us')).presence)).toEqual(['us-b']);
    await api.publish('chat:us', 'after');
    await b.next((f) => f.data === 'after');
    await b2.next((f) => f.data === 'after');
    await a.roundtrip();
    expect(a.frames.some((f) => f.data === 'after')).toBe(false);
  });

  it('presence where it is not enabled is 404 not_available', async () => {
    const e = await rejection(api.presence('news:x'));
    expect([e.status, e.code]).toEqual([404, 'not_available']);
  });

  it('channels lists channels with subscribers, filtered by pattern', async () => {
    await client('ch-a', ['chat:list-1', 'chat:list-2', 'news:list-3']);
    await client('ch-b', ['chat:list-1']);
    expect((await api.channels('chat:list-*')).channels).toEqual([
      { channel: 'chat:list-1', subscribers: 2 },
      { channel: 'chat:list-2', subscribers: 1 },
    ]);
    const all = (await api.channels()).channels.map((c) => c.channel);
    expect(all).toEqual(expect.arrayContaining(['chat:list-1', 'chat:list-2', 'news:list-3']));
  });

  it('info counts nodes, connections, users, channels and subscriptions', async () => {
    const before = await api.info();
    await client('info-a', ['chat:info-1', 'chat:info-2']);
    const after = await api.info();
    expect(after.nodes).toHaveLength(1);
    expect(after.nodes[0]).toMatchObject({ id: expect.stringMatching(/^n_/), pid: process.pid, clients: after.totals.clients });
    expect(after.totals.clients).toBe(before.totals.clients + 1);
    expect(after.totals.users).toBe(before.totals.users + 1);
    // Two chat channels, plus the personal #info-a every connection is auto-subscribed to.
    expect(after.totals.channels).toBe(before.totals.channels + 3);
    expect(after.totals.subscriptions).toBe(before.totals.subscriptions + 3);
  });

  it('history pages forward, backward and from a position; errors say why', async () => {
    for (const n of [1, 2, 3, 4]) await api.publish('chat:hist', n);
    const all = await api.history('chat:hist');
    expect(all.offset).toBe(4);
    expect(all.publications.map((p) => p.data)).toEqual([1, 2, 3, 4]);
    const page = await api.history('chat:hist', { since: { epoch: all.epoch, offset: 1 }, limit: 2 });
    expect(page.publications.map((p) => [p.offset, p.data])).toEqual([[2, 2], [3, 3]]);
    expect((await api.history('chat:hist', { reverse: true, limit: 2 })).publications.map((p) => p.data)).toEqual([4, 3]);
    const gone = await rejection(api.history('chat:hist', { since: { epoch: 'other-epoch', offset: 1 } }));
    expect([gone.status, gone.code]).toEqual([410, 'unrecoverable_position']);
    expect((await rejection(api.history('news:x'))).status).toBe(404);
    const big = await rejection(api.history('chat:hist', { limit: 1_000_000 }));
    expect([big.status, big.field]).toEqual([400, 'limit']);
  });
});
