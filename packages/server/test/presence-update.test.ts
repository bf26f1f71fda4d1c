import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectAuthed, startGateway, token, type RawClient } from './helpers.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { Switchboard, MemoryStorage } from '../../client/src/index.ts';

/**
 * Live presence state (`presence_update`) on two gateways sharing one real redis-server: a
 * change made on one node is seen by subscribers on the other (`update`, and the SDK's
 * `update` event) and by `presence` answers and `POST /api/presence` on either node; bounds,
 * the rate limit and the namespace option are enforced.
 */
const KEY = 'presence-update-api-key-0123456789';
type Gateway = Awaited<ReturnType<typeof startGateway>>;
let redis: RedisProcess;
let a: Gateway;
let b: Gateway;
const clients: RawClient[] = [];
const sdks: Switchboard[] = [];
const NAMESPACES = {
  room: { presence: true, joinLeave: true, presenceUpdates: true, allowSubscribe: true },
  still: { presence: true, joinLeave: true, allowSubscribe: true },
};

async function raw(gw: Gateway, user: string, channel: string): Promise<RawClient> {
  const c = await connectAuthed(gw.wsUrl, user, { info: { name: user } });
  clients.push(c);
  expect((await c.request({ type: 'subscribe', channel })).type).toBe('ack');
  return c;
}

async function apiPresence(gw: Gateway, channel: string): Promise<any> {
  const res = await fetch(`${gw.url}/api/presence`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ channel }) });
  expect(res.status).toBe(200);
  return (await res.json()).presence;
}

beforeAll(async () => {
  redis = await startRedis();
  [a, b] = await Promise.all([0, 1].map(() => startGateway({ apiKeys: [KEY], redis: redis.url, storage: 'redis', namespaces: NAMESPACES })));
}, 60_000);
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of sdks.splice(0)) s.close();
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await redis?.stop();
});

describe('presence_update', () => {
  it('a change on node A reaches subscribers on node B, the SDK, presence answers and POST /api/presence on both nodes', async () => {
    const alice = await raw(a, 'alice', 'room:1');
    const bob = await raw(b, 'bob', 'room:1');
    const sdk = new Switchboard(b.wsUrl, { token: await token('carol', { info: { name: 'carol' } }), storage: new MemoryStorage(), window: null });
    sdks.push(sdk);
    const room = sdk.subscribe('room:1');
    const updates: unknown[] = [];
    room.on('update', (u) => updates.push(u));
    await room.ready();
    const ack = await alice.request({ type: 'presence_update', channel: 'room:1', info: { name: 'alice', status: 'away', cursor: [3, 4] } });
    expect(ack.type).toBe('ack');
    const seen = await bob.next((f) => f.type === 'update');
    expect(seen).toEqual({ type: 'update', channel: 'room:1', user: 'alice', client: expect.stringMatching(/^c_/), info: { name: 'alice', status: 'away', cursor: [3, 4] } });
    await waitFor(() => updates.length === 1, 5000, 'the SDK\'s update event');
    expect(updates[0]).toMatchObject({ user: 'alice', info: { status: 'away' } });
    // Not echoed to the connection that made it.
    await alice.roundtrip();
    expect(alice.frames.some((f) => f.type === 'update')).toBe(false);
    for (const gw of [a, b]) expect((await apiPresence(gw, 'room:1')).alice).toEqual({ user: 'alice', info: { name: 'alice', status: 'away', cursor: [3, 4] }, connections: 1 });
    expect((await bob.request({ type: 'presence', channel: 'room:1' })).presence.alice.info.status).toBe('away');
    // The SDK's setPresence from node B: node A's subscriber sees it.
    await room.setPresence({ name: 'carol', typing: true });
    expect((await alice.next((f) => f.type === 'update' && f.user === 'carol')).info).toEqual({ name: 'carol', typing: true });
    expect((await apiPresence(a, 'room:1')).carol.info).toEqual({ name: 'carol', typing: true });
  });

  it('refused where the namespace does not allow it, off the channel, too large, too often', async () => {
    const c = await raw(a, 'dave', 'still:1');
    expect(await c.request({ type: 'presence_update', channel: 'still:1', info: 1 })).toMatchObject({ type: 'error', code: 'not_available' });
    expect(await c.request({ type: 'presence_update', channel: 'room:9', info: 1 })).toMatchObject({ type: 'error', code: 'bad_request', message: 'not subscribed to room:9' });
    expect((await c.request({ type: 'subscribe', channel: 'room:2' })).type).toBe('ack');
    expect(await c.request({ type: 'presence_update', channel: 'room:2', info: 'x'.repeat(3000) })).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    expect(await c.request({ type: 'presence_update', channel: 'room:2' })).toMatchObject({ type: 'error', code: 'bad_request' });
    // 60 at once: more than the burst (10) and what 5/s can refill however slowly they are handled.
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => c.request({ type: 'presence_update', channel: 'room:2', info: { i } }, 30_000)));
    expect(answers.filter((r) => r.type === 'ack').length).toBeGreaterThanOrEqual(10);
    expect(answers.some((r) => r.type === 'error' && r.code === 'too_many_requests' && r.temporary === true)).toBe(true);
  });
});
