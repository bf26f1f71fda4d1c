import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Switchboard, MemoryStorage } from '@switchboard/client';
import { startGateway, token, RawClient } from '../packages/server/test/helpers.ts';
import { waitFor } from './support/ports.ts';
import { startGatewayProcess } from './support/gateway-process.ts';
import { PUSHER_APP, type PusherClient, connected, pusherClient, pusherServer, subscribed } from './support/pusher.ts';

// One gateway for the file; pusher-js clients, the pusher server SDK and a Switchboard SDK
// client all speak to it. Every client is closed at the end.
let gateway: Awaited<ReturnType<typeof startGateway>>;
let port: number;
const clients: PusherClient[] = [];
const sdks: Switchboard[] = [];

function client(o: Parameters<typeof pusherClient>[1] = {}): PusherClient {
  const c = pusherClient(port, { server: pusherServer(port), ...o });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  gateway = await startGateway({
    apiKeys: ['pusher-test-api-key-0123456789'],
    allowedOrigins: ['http://app.example'],
    limits: { commandsPerSecond: 50 },
    presence: { offlineGraceMs: 200 },
    namespaces: { px: { history: { size: 100, ttl: '1h' }, allowSubscribe: true } },
    pusher: { apps: [{ ...PUSHER_APP, clientEvents: true }, { id: 'app-2', key: 'app-key-2', secret: 'another-secret-0123', namespace: 'other', maxPresenceMembers: 2, maxEventBytes: 20_000 }] },
  });
  port = Number(new URL(gateway.url).port);
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const s of sdks) s.close();
  await gateway?.close();
});

describe('Pusher protocol 7 with pusher-js and the pusher server SDK', () => {
  it('a public channel gets what the server SDK triggers, in order, once; data arrives parsed', async () => {
    const c = client();
    await connected(c);
    expect(c.connection.socket_id).toMatch(/^\d+\.\d+$/);
    const { events: got } = await subscribed(c, 'orders');
    const server = pusherServer(port);
    for (let i = 0; i < 5; i++) await server.trigger('orders', 'created', { n: i });
    await server.trigger(['orders', 'elsewhere;with=odd@chars'], 'text', 'plain words');
    await waitFor(() => got.length >= 6);
    expect(got.slice(0, 5)).toEqual([0, 1, 2, 3, 4].map((n) => ({ event: 'created', data: { n } })));
    expect(got[5]).toEqual({ event: 'text', data: 'plain words' });
    await server.trigger('orders', 'last', {});
    await waitFor(() => got.length >= 7);
    expect(got).toHaveLength(7);
  });

  it('a Switchboard SDK subscriber and a Pusher client on one channel see the same events', async () => {
    const c = client();
    const { events: fromPusher } = await subscribed(c, 'shared');
    const sdk = new Switchboard(gateway.wsUrl, { token: await token('sdk-user', { channels: ['px:*'] }), storage: new MemoryStorage(), window: null });
    sdks.push(sdk);
    const fromSdk: unknown[] = [];
    const sub = sdk.subscribe('px:shared');
    sub.on('message', (m: { data: unknown }) => fromSdk.push(m.data));
    await new Promise<void>((resolve) => sub.on('subscribed', () => resolve()));
    await pusherServer(port).trigger('shared', 'price', { sku: 'a', cents: 120 });
    // The server API publishes in Switchboard's terms: {event, data} is that event, anything else `message`.
    const api = async (data: unknown) => {
      const res = await fetch(`${gateway.url}/api/publish`, { method: 'POST', headers: { 'content-type': 'application/json', "x-api-key": gateway.config.apiKeys[0]! }, body: JSON.stringify({ channel: 'px:shared', data }) });
      expect(res.status).toBe(200);
    };
    await api({ event: 'price', data: { sku: 'b', cents: 80 } });
    await api({ text: 'not a pusher event' });
    await waitFor(() => fromPusher.length >= 3 && fromSdk.length >= 3);
    expect(fromSdk).toEqual([
      { event: 'price', data: { sku: 'a', cents: 120 } },
      { event: 'price', data: { sku: 'b', cents: 80 } },
      { text: 'not a pusher event' },
    ]);
    expect(fromPusher).toEqual([
      { event: 'price', data: { sku: 'a', cents: 120 } },
      { event: 'price', data: { sku: 'b', cents: 80 } },
      { event: 'message', data: { text: 'not a pusher event' } },
    ]);
  });

  it('a trigger with socket_id skips that socket; info answers subscription counts', async () => {
    const a = client();
    const b = client();
    const [sa] = await Promise.all([connected(a), connected(b)]);
    const ga = (await subscribed(a, 'skip')).events;
    const gb = (await subscribed(b, 'skip')).events;
    const server = pusherServer(port);
    const res = await server.trigger('skip', 'e', { x: 1 }, { socket_id: sa, info: 'subscription_count' });
    expect(await res.json()).toEqual({ channels: { skip: { subscription_count: 2 } } });
    await server.trigger('skip', 'e', { x: 2 });
    await waitFor(() => gb.length >= 2 && ga.length >= 1);
    expect(ga).toEqual([{ event: 'e', data: { x: 2 } }]);
    expect(gb).toEqual([{ event: 'e', data: { x: 1 } }, { event: 'e', data: { x: 2 } }]);
  });

  it('private channels need a valid signature; a wrong one is refused', async () => {
    const good = client();
    const { events: got } = await subscribed(good, 'private-account');
    const forger = pusherClient(port, { server: pusherServer(port, { id: PUSHER_APP.id, key: PUSHER_APP.key, secret: 'not-the-secret-000000' }) });
    clients.push(forger);
    await expect(subscribed(forger, 'private-account')).rejects.toThrow(/subscription_error/);
    await pusherServer(port).trigger('private-account', 'balance', { cents: 5 });
    await waitFor(() => got.length >= 1);
    expect(got).toEqual([{ event: 'balance', data: { cents: 5 } }]);
    // A signature for another socket is refused too (raw frames: pusher-js would sign for its own socket).
    const raw = new RawClient(`ws://127.0.0.1:${port}/app/${PUSHER_APP.key}?protocol=7&client=js&version=8.4.0`);
    const hello = await raw.next((f) => f.event === 'pusher:connection_established');
    expect(JSON.parse(hello.data).activity_timeout).toBeGreaterThan(0);
    const auth = pusherServer(port).authorizeChannel('123.456', 'private-account');
    raw.send({ event: 'pusher:subscribe', data: { channel: 'private-account', auth: auth.auth } });
    const err = await raw.next((f) => f.event === 'pusher:subscription_error');
    expect(err.data).toMatchObject({ type: 'AuthError', status: 401 });
    raw.close();
  });

  it('end-to-end encrypted channels: the gateway relays the ciphertext, pusher-js decrypts it', async () => {
    const encryption = { encryptionMasterKeyBase64: Buffer.alloc(32, 7).toString('base64') };
    const server = pusherServer(port, PUSHER_APP, encryption);
    const c = pusherClient(port, { server });
    clients.push(c);
    const { events } = await subscribed(c, 'private-encrypted-vault');
    await server.trigger('private-encrypted-vault', 'secret', { code: 1234 });
    await waitFor(() => events.length >= 1);
    expect(events).toEqual([{ event: 'secret', data: { code: 1234 } }]);
    // What the gateway stored is ciphertext: a Switchboard reader sees nonce and ciphertext, never the code.
    const history = await fetch(`${gateway.url}/api/history`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': gateway.config.apiKeys[0]! }, body: JSON.stringify({ channel: 'px:private-encrypted-vault' }) });
    const stored = (await history.json()).publications[0].data;
    expect(stored.event).toBe('secret');
    expect(Object.keys(stored.data).sort()).toEqual(['ciphertext', 'nonce']);
    expect(JSON.stringify(stored)).not.toContain('1234');
  });

  it('presence channels: members, member_added/removed once per user, client events not echoed', async () => {
    const alice = client({ presence: { user_id: 'alice', user_info: { name: 'Alice' } } });
    const bob = client({ presence: { user_id: 'bob', user_info: { name: 'Bob' } } });
    const bob2 = client({ presence: { user_id: 'bob', user_info: { name: 'Bob' } } });
    const first = await subscribed(alice, 'presence-room');
    expect(first.data.count).toBe(1);
    expect(first.data.me).toEqual({ id: 'alice', info: { name: 'Alice' } });
    const added: string[] = [];
    const removed: string[] = [];
    first.channel.bind('pusher:member_added', (m: { id: string }) => added.push(m.id));
    first.channel.bind('pusher:member_removed', (m: { id: string }) => removed.push(m.id));
    const second = await subscribed(bob, 'presence-room');
    expect(second.data.count).toBe(2);
    expect(second.data.members).toEqual({ alice: { name: 'Alice' }, bob: { name: 'Bob' } });
    await subscribed(bob2, 'presence-room');
    await waitFor(() => added.length >= 1);

    const atAlice: Array<{ event: string; data: unknown; userId?: string }> = [];
    first.channel.bind('client-typing', (data: unknown, meta: { user_id?: string }) => atAlice.push({ event: 'client-typing', data, ...(meta?.user_id ? { userId: meta.user_id } : {}) }));
    const atBob: unknown[] = [];
    second.channel.bind('client-typing', (data: unknown) => atBob.push(data));
    expect(second.channel.trigger('client-typing', { on: true })).toBe(true);
    await waitFor(() => atAlice.length >= 1);
    expect(atAlice).toEqual([{ event: 'client-typing', data: { on: true }, userId: 'bob' }]);

    bob2.disconnect();
    // bob is still there with his other connection: no member_removed yet.
    await pusherServer(port).trigger('presence-room', 'sync', {});
    await new Promise<void>((resolve) => first.channel.bind('sync', () => resolve()));
    expect(removed).toEqual([]);
    bob.disconnect();
    await waitFor(() => removed.length >= 1);
    expect(added).toEqual(['bob']);
    expect(removed).toEqual(['bob']);
    expect(atBob).toEqual([]); // never echoed to its sender
    const users = await (await pusherServer(port).get({ path: '/channels/presence-room/users' })).json();
    expect(users).toEqual({ users: [{ id: 'alice' }] });
  });

  it('the HTTP API answers channel queries and refuses a wrong signature on every route', async () => {
    const c = client({ presence: { user_id: 'carol' } });
    await subscribed(c, 'presence-lobby');
    await subscribed(c, 'news');
    const server = pusherServer(port);
    await waitFor(async () => (await (await server.get({ path: '/channels/news', params: { info: 'subscription_count' } })).json()).subscription_count === 1);
    expect(await (await server.get({ path: '/channels/presence-lobby', params: { info: 'user_count,subscription_count' } })).json())
      .toEqual({ occupied: true, user_count: 1, subscription_count: 1 });
    expect(await (await server.get({ path: '/channels/nobody-here' })).json()).toEqual({ occupied: false });
    const all = await (await server.get({ path: '/channels' })).json();
    expect(Object.keys(all.channels)).toEqual(expect.arrayContaining(['news', 'presence-lobby']));
    const present = await (await server.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json();
    expect(present.channels['presence-lobby']).toEqual({ user_count: 1 });
    expect(Object.keys(present.channels).every((n) => n.startsWith('presence-'))).toBe(true);
    await expect(server.get({ path: '/channels', params: { info: 'user_count' } })).rejects.toMatchObject({ status: 400 });

    const wrong = pusherServer(port, { id: PUSHER_APP.id, key: PUSHER_APP.key, secret: 'not-the-secret-000000' });
    for (const call of [
      () => wrong.trigger('news', 'x', {}),
      () => wrong.triggerBatch([{ channel: 'news', name: 'x', data: {} }]),
      () => wrong.get({ path: '/channels' }),
      () => wrong.get({ path: '/channels/news' }),
      () => wrong.get({ path: '/channels/presence-lobby/users' }),
      () => wrong.terminateUserConnections('carol'),
    ]) await expect(call()).rejects.toMatchObject({ status: 401 });
    const unknown = pusherServer(port, { id: 'nope', key: PUSHER_APP.key, secret: PUSHER_APP.secret });
    await expect(unknown.trigger('news', 'x', {})).rejects.toMatchObject({ status: 404 });
    // The other app's credentials do not reach this app's channels.
    const other = pusherServer(port, { id: 'app-2', key: PUSHER_APP.key, secret: PUSHER_APP.secret });
    await expect(other.trigger('news', 'x', {})).rejects.toMatchObject({ status: 401 });
  });

  it('batch events, cache channels (cache_miss, then the last event) and user sign-in with terminate_connections', async () => {
    const server = pusherServer(port);
    const c = client({ user: { id: 'dave', user_info: { name: 'Dave' } } });
    const miss = new Promise<void>((resolve) => c.subscribe('cache-prices').bind('pusher:cache_miss', () => resolve()));
    await miss;
    await server.triggerBatch([{ channel: 'cache-prices', name: 'tick', data: { p: 1 } }, { channel: 'cache-prices', name: 'tick', data: { p: 2 } }]);
    const late = client();
    const { events: got } = await subscribed(late, 'cache-prices');
    await waitFor(() => got.length >= 1);
    expect(got).toEqual([{ event: 'tick', data: { p: 2 } }]);

    c.signin();
    await new Promise<void>((resolve) => c.user.signinDonePromise.then(() => resolve()));
    const toUser: unknown[] = [];
    c.user.bind('note', (d: unknown) => toUser.push(d));
    await waitFor(async () => {
      await server.sendToUser('dave', 'note', { hi: 1 });
      return toUser.length > 0;
    });
    const closed = new Promise<number>((resolve) => c.connection.bind('error', (e: { data?: { code?: number } }) => e.data?.code && resolve(e.data.code)));
    await server.terminateUserConnections('dave');
    expect(await closed).toBe(4009);
  });

  it('watchlists: who is online at sign-in, then online and offline of each watched user', async () => {
    const signIn = async (id: string, watchlist?: string[]) => {
      const c = client({ user: { id, ...(watchlist ? { watchlist } : {}) } });
      await connected(c);
      c.signin();
      await c.user.signinDonePromise;
      return c;
    };
    const gina = await signIn('gina');
    const frank = client({ user: { id: 'frank', watchlist: ['gina', 'hank', 'not a valid id'] } });
    const seen: string[] = [];
    frank.user.watchlist.bind('online', (e: { user_ids: string[] }) => seen.push(`online ${e.user_ids.join(',')}`));
    frank.user.watchlist.bind('offline', (e: { user_ids: string[] }) => seen.push(`offline ${e.user_ids.join(',')}`));
    await connected(frank);
    frank.signin();
    await waitFor(() => seen.length >= 1);
    expect(seen).toEqual(['online gina']);
    const hank = await signIn('hank');
    await waitFor(() => seen.length >= 2);
    hank.disconnect();
    await waitFor(() => seen.length >= 3);
    expect(seen).toEqual(['online gina', 'online hank', 'offline hank']);
    gina.disconnect();
    await waitFor(() => seen.length >= 4);
    expect(seen.at(-1)).toBe('offline gina');
  });

  it('limits per app: presence members (Pusher\'s 100, or what the app allows) and event size (10 KB, or more)', async () => {
    const app2 = { id: 'app-2', key: 'app-key-2', secret: 'another-secret-0123' };
    const server2 = pusherServer(port, app2);
    const member = (user_id: string) => client({ key: app2.key, server: server2, presence: { user_id } });
    await subscribed(member('m1'), 'presence-small');
    await subscribed(member('m2'), 'presence-small');
    await subscribed(member('m1'), 'presence-small'); // a member already there may open another connection
    await expect(subscribed(member('m3'), 'presence-small')).rejects.toMatchObject({ detail: { type: 'LimitReached', status: 4100 } });
    const big = 'x'.repeat(15_000);
    await expect(pusherServer(port).trigger('news', 'big', big)).rejects.toMatchObject({ status: 413 });
    const c = client({ key: app2.key, server: server2 });
    const { events } = await subscribed(c, 'bulletins');
    await server2.trigger('bulletins', 'big', big);
    await waitFor(() => events.length > 0);
    expect(events[0]!.data).toBe(big);
  });

  it('refuses unknown app keys and protocol versions with Pusher close codes', async () => {
    const codes: number[] = [];
    for (const url of [`/app/no-such-key?protocol=7`, `/app/${PUSHER_APP.key}`, `/app/${PUSHER_APP.key}?protocol=4`, `/app/${PUSHER_APP.key}?protocol=x`]) {
      const raw = new RawClient(`ws://127.0.0.1:${port}${url}`);
      codes.push(await raw.waitClose());
    }
    expect(codes).toEqual([4001, 4008, 4007, 4006]);
  });

  it('the native defences hold: origin allow-list, command and client event rates, event size, blocks', async () => {
    const base = `ws://127.0.0.1:${port}/app/${PUSHER_APP.key}?protocol=7`;
    await expect(new RawClient(base, { headers: { origin: 'http://evil.example' } }).opened).rejects.toThrow(/403/);
    const raw = new RawClient(base, { headers: { origin: 'http://app.example' } });
    const hello = await raw.next((f) => f.event === 'pusher:connection_established');
    const socketId = JSON.parse(hello.data).socket_id as string;
    const server = pusherServer(port);
    raw.send({ event: 'pusher:subscribe', data: { channel: 'private-chat', auth: server.authorizeChannel(socketId, 'private-chat').auth } });
    await raw.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    // Client events: the app's 10 a second (burst 10), then pusher:error 4301; too large: refused.
    for (let i = 0; i < 15; i++) raw.send({ event: 'client-x', channel: 'private-chat', data: { i } });
    await raw.next((f) => f.event === 'pusher:error' && f.data.code === 4301);
    raw.send({ event: 'client-big', channel: 'private-chat', data: 'x'.repeat(11_000) });
    await raw.next((f) => f.event === 'pusher:error' && /data over 10240 bytes/.test(f.data.message));
    // Commands far past limits.commandsPerSecond: refused, then the connection is closed 4100 (reconnect after a backoff).
    for (let i = 0; i < 400; i++) raw.send({ event: 'pusher:ping', data: {} });
    expect(await raw.waitClose()).toBe(4100);

    // A signed-in user who gets blocked is closed 4009; signing in or joining presence as that user is refused.
    const eve = client({ user: { id: 'eve' }, presence: { user_id: 'eve' } });
    await connected(eve);
    eve.signin();
    await eve.user.signinDonePromise;
    const closed = new Promise<number>((resolve) => eve.connection.bind('error', (e: { data?: { code?: number } }) => e.data?.code && resolve(e.data.code)));
    const block = await fetch(`${gateway.url}/api/block`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': gateway.config.apiKeys[0]! }, body: JSON.stringify({ user: 'eve' }) });
    expect(block.status).toBe(200);
    expect(await closed).toBe(4009);
    const again = client({ presence: { user_id: 'eve' } });
    await expect(subscribed(again, 'presence-room')).rejects.toThrow(/subscription_error/);
  });
});

describe('a gateway configured from the environment alone', () => {
  it('serves the Pusher app SWITCHBOARD_PUSHER_APP_* describe (the CLI, no JWT secret, no file)', async () => {
    const gw = await startGatewayProcess({ env: {
      SWITCHBOARD_STORAGE: 'memory', SWITCHBOARD_PUSHER_APP_ID: 'env-app', SWITCHBOARD_PUSHER_APP_KEY: 'env-key', SWITCHBOARD_PUSHER_APP_SECRET: 'env-secret-0123',
    } });
    try {
      const app = { id: 'env-app', key: 'env-key', secret: 'env-secret-0123' };
      const c = pusherClient(gw.port, { key: app.key });
      clients.push(c);
      const { events } = await subscribed(c, 'orders');
      await pusherServer(gw.port, app).trigger('orders', 'created', { id: 1 });
      await waitFor(() => events.length > 0);
      expect(events).toEqual([{ event: 'created', data: { id: 1 } }]);
    } finally {
      await gw.stop();
    }
  }, 90_000);
});
