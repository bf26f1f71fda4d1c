import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, token } from '../../server/test/helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { SwitchboardApi } from '@switchboard/api-client';
import { HookBackend } from '../../server/test/hook-backend.ts';
import { SwitchboardError, type ClientEvents, type Publication } from '../src/index.ts';
import { NAMESPACES, closeClients, makeClient } from './helpers.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
const KEY = 'api-key-0123456789abcdef';
let gw: Gateway;
let api: SwitchboardApi;
const backend = new HookBackend();

beforeAll(async () => {
  await backend.start();
  gw = await startGateway({ namespaces: NAMESPACES, apiKeys: [KEY], hooks: { rpc: { url: `${backend.url}/rpc` } } });
  api = new SwitchboardApi({ url: gw.url, apiKey: KEY });
});
afterEach(() => closeClients());
afterAll(async () => {
  await gw.close();
  await backend.close();
});

describe('SDK: rewind', () => {
  it('subscribe(channel, {rewind: 3}) delivers the last three as messages, oldest first, then live ones once', async () => {
    const writer = makeClient(gw.wsUrl, { token: await token('alice') });
    for (const n of [1, 2, 3, 4, 5]) await writer.publish('chat:rewind', n);
    const reader = makeClient(gw.wsUrl, { token: await token('bob') });
    const sub = reader.subscribe('chat:rewind', { rewind: 3 });
    const got: Publication[] = [];
    sub.on('message', (m) => got.push(m));
    await sub.ready();
    expect(got.map((m) => m.data)).toEqual([3, 4, 5]);
    expect(sub.position?.offset).toBe(5);
    await writer.publish('chat:rewind', 6);
    await waitFor(() => got.length === 4);
    expect(got.map((m) => m.data)).toEqual([3, 4, 5, 6]);
  });
});

describe('SDK: server-side subscriptions', () => {
  it('surfaces subscribed/unsubscribed events and routes the channel\'s messages to a Subscription object', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('sdk-ss') });
    const events: string[] = [];
    const got: unknown[] = [];
    const subscribed = new Promise<ClientEvents['subscribed']>((resolve) => c.on('subscribed', (e) => {
      events.push(`subscribed:${e.channel}:${e.persist}`);
      e.subscription.on('message', (m) => got.push(m.data));
      resolve(e);
    }));
    const unsubscribed = new Promise<ClientEvents['unsubscribed']>((resolve) => c.on('unsubscribed', (e) => { events.push(`unsubscribed:${e.reason}`); resolve(e); }));
    c.on('message', (m) => events.push(`stray:${m.channel}`));
    await new Promise<void>((resolve) => c.once('connected', () => resolve()));
    await api.subscribe('sdk-ss', 'locked:news');
    const e = await subscribed;
    expect(e.subscription.server).toBe(true);
    expect(e.subscription.state).toBe('subscribed');
    expect(c.getSubscription('locked:news')).toBe(e.subscription);
    await api.publish('locked:news', 'headline');
    await waitFor(() => got.length === 1);
    await api.unsubscribe('sdk-ss', 'locked:news');
    const u = await unsubscribed;
    expect(u.subscription).toBe(e.subscription);
    expect(e.subscription.state).toBe('unsubscribed');
    expect(c.getSubscription('locked:news')).toBeUndefined();
    expect(events).toEqual(['subscribed:locked:news:false', 'unsubscribed:server']);
    expect(got).toEqual(['headline']);
  });

  it('a persistent server-side subscription comes back after a reconnect without the client asking', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('sdk-sp') });
    await new Promise<void>((resolve) => c.once('connected', () => resolve()));
    const first = new Promise<ClientEvents['subscribed']>((resolve) => c.once('subscribed', resolve));
    await api.subscribe('sdk-sp', 'locked:kept', { persist: true });
    const sub = (await first).subscription;
    const again = new Promise<ClientEvents['subscribed']>((resolve) => c.once('subscribed', resolve));
    await api.disconnect('sdk-sp', { code: 3000, reason: 'reconnect' });
    expect((await again).subscription).toBe(sub);
    const got: unknown[] = [];
    sub.on('message', (m) => got.push(m.data));
    await api.publish('locked:kept', 'still here');
    await waitFor(() => got.length === 1);
    await api.unsubscribe('sdk-sp', 'locked:kept');
  });
});

describe('SDK: rpc', () => {
  it('client.rpc(method, data) resolves with the backend\'s result; the backend saw the caller', async () => {
    backend.handlers.rpc = (body) => (body.method === 'sum'
      ? { body: { result: (body.data as number[]).reduce((a, b) => a + b, 0) } }
      : { body: { error: { code: 'unknown_method', message: `no method ${body.method}` } } });
    const c = makeClient(gw.wsUrl, { token: await token('rpc-user') });
    expect(await c.rpc<number>('sum', [1, 2, 3])).toBe(6);
    expect(backend.of('rpc').at(-1)).toMatchObject({ method: 'sum', user: 'rpc-user', client: c.clientId });
    const err = await c.rpc('nope').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err).toMatchObject({ code: 'rpc_error', message: 'no method nope', temporary: false, details: { code: 'unknown_method' } });
    await expect(c.rpc('bad method')).rejects.toThrow(TypeError);
  });
});
