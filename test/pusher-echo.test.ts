import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import Echo from 'laravel-echo';
import { startGateway } from '../packages/server/test/helpers.ts';
import { launchChromium } from './support/chromium.ts';
import { waitFor } from './support/ports.ts';
import { PUSHER_APP, pusherClient, pusherJsClass, pusherServer, subscribed } from './support/pusher.ts';
import { startPusherBackend, type PusherBackend } from './support/pusher-backend.ts';

// One gateway, one application backend (channel authorization with the `pusher` SDK, as
// Laravel's /broadcasting/auth does) and one Chromium for the file.
let gateway: Awaited<ReturnType<typeof startGateway>>;
let backend: PusherBackend;
let browser: Browser;
let port: number;
const echoes: Array<{ disconnect(): void }> = [];

/** Laravel Echo with its Pusher connector, configured as a Laravel app is, pointed at the gateway. */
function echo(user: string): Echo<'pusher'> {
  const e = new Echo({
    broadcaster: 'pusher', key: PUSHER_APP.key, wsHost: '127.0.0.1', wsPort: port, forceTLS: false, enabledTransports: ['ws'], cluster: 'local',
    authEndpoint: `${backend.url}/broadcasting/auth?user=${user}`, Pusher: pusherJsClass as never,
  });
  echoes.push(e);
  return e;
}

beforeAll(async () => {
  // The backend only signs and verifies with the SDK: any port will do for its client.
  [backend, browser] = await Promise.all([startPusherBackend(pusherServer(1)), launchChromium()]);
  const webhooks = { url: `${backend.url}/webhooks`, events: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss'] as const };
  gateway = await startGateway({ pusher: { apps: [{ ...PUSHER_APP, clientEvents: true, webhooks: { ...webhooks, events: [...webhooks.events] } }] } });
  port = Number(new URL(gateway.url).port);
}, 60_000);
afterAll(async () => {
  for (const e of echoes) e.disconnect();
  await browser?.close();
  await backend?.close();
  await gateway?.close();
});

describe('Laravel Echo (Pusher connector) and pusher-js in Chromium', () => {
  it('Echo: public, private and presence channels, whispers; events from the pusher SDK in order', async () => {
    const alice = echo('alice');
    const bob = echo('bob');
    const orders: unknown[] = [];
    const balance: unknown[] = [];
    alice.channel('orders').listen('.created', (d: unknown) => orders.push(d));
    alice.private('account').listen('.balance', (d: unknown) => balance.push(d));
    const here: unknown[][] = [];
    const joining: unknown[] = [];
    const leaving: unknown[] = [];
    const whispers: unknown[] = [];
    alice.join('room').here((m: unknown[]) => here.push(m)).joining((m: unknown) => joining.push(m)).leaving((m: unknown) => leaving.push(m))
      .listenForWhisper('typing', (d: unknown) => whispers.push(d));
    await waitFor(() => here.length > 0);
    expect(here[0]).toEqual([{ name: 'alice' }]);
    const bobRoom = bob.join('room');
    await waitFor(() => joining.length > 0);
    expect(joining).toEqual([{ name: 'bob' }]);
    bobRoom.whisper('typing', { on: true });
    await waitFor(() => whispers.length > 0);
    expect(whispers).toEqual([{ on: true }]);

    const server = pusherServer(port);
    await waitFor(async () => {
      const r = await (await server.get({ path: '/channels/private-account', params: { info: 'subscription_count' } })).json();
      return r.subscription_count === 1;
    });
    for (let i = 1; i <= 3; i++) await server.trigger(['orders', 'private-account'], i % 2 ? 'created' : 'balance', { i });
    await waitFor(() => orders.length === 2 && balance.length === 1);
    expect(orders).toEqual([{ i: 1 }, { i: 3 }]);
    expect(balance).toEqual([{ i: 2 }]);
    bob.disconnect();
    await waitFor(() => leaving.length > 0);
    expect(leaving).toEqual([{ name: 'bob' }]);
  });

  it('pusher-js and Echo in Chromium receive what the pusher SDK triggers; a forged authorization is refused', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${backend.url}/page`);
      await page.evaluate(({ key, port, auth }) => {
        const w = window as unknown as Record<string, any>;
        w.got = [];
        const pusher = new w.Pusher(key, { cluster: 'local', wsHost: '127.0.0.1', wsPort: port, forceTLS: false, enabledTransports: ['ws'] });
        pusher.subscribe('news').bind('headline', (d: unknown) => w.got.push(['pusher-js', d]));
        const echo = new w.Echo.default({ broadcaster: 'pusher', key, wsHost: '127.0.0.1', wsPort: port, forceTLS: false, enabledTransports: ['ws'], cluster: 'local', authEndpoint: auth });
        echo.private('inbox').listen('.mail', (d: unknown) => w.got.push(['echo', d])).subscribed(() => w.got.push(['echo', 'subscribed']));
        // A client that signs its own authorization (it has no secret): refused.
        const forger = new w.Pusher(key, {
          cluster: 'local', wsHost: '127.0.0.1', wsPort: port, forceTLS: false, enabledTransports: ['ws'],
          channelAuthorization: { endpoint: '/x', transport: 'ajax', customHandler: (_: unknown, cb: (e: null, d: unknown) => void) => cb(null, { auth: `${key}:${'0'.repeat(64)}` }) },
        });
        forger.subscribe('private-inbox').bind('pusher:subscription_error', (e: { status: number }) => w.got.push(['forger', e.status]));
      }, { key: PUSHER_APP.key, port, auth: `${backend.url}/broadcasting/auth?user=carol` });
      await waitFor(async () => (await page.evaluate(() => (window as unknown as { got: unknown[][] }).got)).some((g) => g[1] === 'subscribed'));
      const server = pusherServer(port);
      await waitFor(async () => (await (await server.get({ path: '/channels/news', params: { info: 'subscription_count' } })).json()).subscription_count === 1);
      await server.trigger('news', 'headline', { title: 'one' });
      await server.trigger('private-inbox', 'mail', { from: 'dave' });
      await server.trigger('news', 'headline', { title: 'two' });
      await waitFor(async () => (await page.evaluate(() => (window as unknown as { got: unknown[] }).got.length)) >= 5);
      const got = await page.evaluate(() => (window as unknown as { got: unknown[] }).got);
      expect(got).toEqual(expect.arrayContaining([['forger', 401], ['echo', { from: 'dave' }]]));
      expect(got.filter((g) => (g as unknown[])[0] === 'pusher-js')).toEqual([['pusher-js', { title: 'one' }], ['pusher-js', { title: 'two' }]]);
    } finally {
      await page.close();
    }
  });

  it('webhooks arrive in Pusher\'s format, one per event, and verify with the pusher SDK', async () => {
    const server = pusherServer(port);
    const carol = pusherClient(port, { server, presence: { user_id: 'carol', user_info: { n: 3 } } });
    const erin = pusherClient(port, { server, presence: { user_id: 'erin' } });
    const hooked = (name: string, channel: string) => backend.webhooks.find((w) => w.events.some((e) => e.name === name && e.channel === channel));
    const room = await subscribed(carol, 'presence-hooks');
    await subscribed(erin, 'presence-hooks');
    (room.channel as unknown as { trigger(e: string, d: unknown): boolean }).trigger('client-ping', { x: 1 });
    await new Promise<void>((resolve) => carol.subscribe('cache-hooks').bind('pusher:cache_miss', () => resolve()));
    erin.disconnect();
    carol.disconnect();
    const count = (name: string) => backend.webhooks.flatMap((w) => w.events).filter((e) => e.name === name && e.channel === 'presence-hooks').length;
    await waitFor(() => hooked('channel_vacated', 'presence-hooks') && count('member_removed') === 2 && hooked('channel_vacated', 'cache-hooks'), 15_000);
    expect(backend.webhooks.every((w) => w.valid && w.key === PUSHER_APP.key)).toBe(true);
    const events = backend.webhooks.flatMap((w) => w.events).filter((e) => e.channel === 'presence-hooks' || e.channel === 'cache-hooks');
    const names = events.filter((e) => e.channel === 'presence-hooks').map((e) => e.name);
    // Occupied first; each member added once and removed once; the client event once; vacated once.
    expect(names[0]).toBe('channel_occupied');
    expect([...names].sort()).toEqual(['channel_occupied', 'channel_vacated', 'client_event', 'member_added', 'member_added', 'member_removed', 'member_removed']);
    expect(events.find((e) => e.name === 'client_event')).toMatchObject({ event: 'client-ping', data: '{"x":1}', user_id: 'carol', socket_id: expect.stringMatching(/^\d+\.\d+$/) });
    expect(events.filter((e) => e.name === 'member_added').map((e) => e.user_id)).toEqual(['carol', 'erin']);
    expect(events.filter((e) => e.channel === 'cache-hooks').map((e) => e.name)).toEqual(['channel_occupied', 'cache_miss', 'channel_vacated']);
    // A forged webhook (another secret) does not verify.
    const forged = pusherServer(1, { id: PUSHER_APP.id, key: PUSHER_APP.key, secret: 'not-the-secret-000000' });
    expect(forged.webhook({ headers: { 'x-pusher-key': PUSHER_APP.key, 'x-pusher-signature': 'f'.repeat(64), 'content-type': 'application/json' }, rawBody: '{"time_ms":1,"events":[]}' }).isValid()).toBe(false);
  });
});
