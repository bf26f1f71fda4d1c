import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, startGateway, token } from './helpers.ts';

const KEY = 'hostile-ids-key-0123456789';
/** Valid user ids and channel-name parts that are also Object.prototype property names. */
const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

const clients: RawClient[] = [];
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function connect(wsUrl: string, user: string): Promise<RawClient> {
  const c = new RawClient(`${wsUrl}?token=${await token(user, { channels: ['*'], publish: ['*'] })}`);
  clients.push(c);
  expect((await c.next((f) => f.type === 'auth_success' || f.type === 'auth_failed')).type).toBe('auth_success');
  return c;
}

async function api(url: string, method: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/${method}`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('user ids and channel names that are Object.prototype names', () => {
  it('presence lists __proto__, constructor, toString … like any other user, and the gateway keeps serving', async () => {
    const gw = await startGateway({
      apiKeys: [KEY],
      sessions: { maxPerUser: 2 },
      namespaces: { chat: { presence: true, joinLeave: true, allowSubscribe: true, history: { size: 10, ttl: '1h' }, sessions: { maxPerUser: 1 } } },
    });
    servers.push(gw);
    const watcher = await connect(gw.wsUrl, 'watcher');
    expect((await watcher.request({ type: 'subscribe', channel: 'chat:room' })).type).toBe('ack');
    for (const user of PROTO_NAMES) {
      const c = await connect(gw.wsUrl, user);
      expect(await c.request({ type: 'subscribe', channel: 'chat:room' })).toMatchObject({ type: 'ack' });
      expect(await c.request({ type: 'publish', channel: 'chat:room', data: user })).toMatchObject({ type: 'ack' });
      expect(await c.request({ type: 'send', to: 'watcher', data: `dm from ${user}` })).toMatchObject({ type: 'ack' });
      expect(await watcher.request({ type: 'send', to: user, data: `dm to ${user}` })).toMatchObject({ type: 'ack' });
      await c.next((f) => f.type === 'message' && f.data === `dm to ${user}`);
    }
    const want = ['watcher', ...PROTO_NAMES].sort();
    const presence = (await watcher.request({ type: 'presence', channel: 'chat:room' })).presence;
    expect(Object.keys(presence).sort()).toEqual(want);
    for (const user of PROTO_NAMES) expect(presence[user]).toEqual({ user, connections: 1 });
    const viaApi = await api(gw.url, 'presence', { channel: 'chat:room' });
    expect(viaApi.status).toBe(200);
    expect(Object.keys(viaApi.body.presence).sort()).toEqual(want);
    expect((await api(gw.url, 'send', { user: '__proto__', data: 'x' })).status).toBe(200);
    // Every user's publication and join reached the watcher; nothing leaked into Object.prototype.
    for (const user of PROTO_NAMES) await watcher.next((f) => f.type === 'message' && f.data === user);
    expect(watcher.frames.filter((f) => f.type === 'join').map((f) => f.user).sort()).toEqual([...PROTO_NAMES].sort());
    expect(({} as Record<string, unknown>).connections).toBeUndefined();
    // Disconnecting them (server API) finds them; the gateway is still serving.
    expect((await api(gw.url, 'disconnect', { user: 'constructor' })).status).toBe(200);
    await watcher.next((f) => f.type === 'leave' && f.user === 'constructor');
    await watcher.roundtrip();
  });

  it('a namespace named like an Object.prototype property is unknown, not Object.prototype', async () => {
    const gw = await startGateway({ apiKeys: [KEY], namespaces: { chat: { allowSubscribe: true } } });
    servers.push(gw);
    const c = await connect(gw.wsUrl, 'alice');
    for (const ns of PROTO_NAMES) {
      expect(await c.request({ type: 'subscribe', channel: `${ns}:x` })).toMatchObject({ type: 'error', code: 'unknown_channel' });
      expect(await c.request({ type: 'publish', channel: `${ns}:x`, data: 1 })).toMatchObject({ type: 'error', code: 'unknown_channel' });
      expect((await api(gw.url, 'publish', { channel: `${ns}:x`, data: 1 })).status).toBe(404);
    }
  });
});
