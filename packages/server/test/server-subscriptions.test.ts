import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SwitchboardApi, SwitchboardApiError } from '@switchboard/api-client';
import { RawClient, connectAuthed, startGateway } from './helpers.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';

const KEY = 'api-key-0123456789abcdef';
const NAMESPACES = { chat: { history: { size: 100, ttl: '1h' }, presence: true }, live: {} };
type Gateway = Awaited<ReturnType<typeof startGateway>>;
const dir = mkdtempSync(join(tmpdir(), 'sb-ssub-'));
const clients: RawClient[] = [];
let gw: Gateway;
let api: SwitchboardApi;

async function client(user: string): Promise<RawClient> {
  const c = await connectAuthed(gw.wsUrl, user);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  gw = await startGateway({ apiKeys: [KEY], storage: `sqlite:${join(dir, 'a.db')}`, namespaces: NAMESPACES });
  api = new SwitchboardApi({ url: gw.url, apiKey: KEY });
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
afterAll(async () => {
  await gw.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('server-side subscriptions', () => {
  it('an API subscription reaches every live connection of the user (no grant needed), and its unsubscription too', async () => {
    const tab1 = await client('ss-a');
    const tab2 = await client('ss-a');
    const other = await client('ss-b');
    await api.publish('chat:room', 'before');
    await api.subscribe('ss-a', 'chat:room');
    for (const tab of [tab1, tab2]) {
      expect(await tab.next((f) => f.type === 'subscribed')).toEqual({ type: 'subscribed', channel: 'chat:room', epoch: expect.any(String), offset: 1, persist: false });
    }
    expect((await api.presence('chat:room')).presence).toEqual({ 'ss-a': { user: 'ss-a', connections: 2 } });
    await api.publish('chat:room', 'live');
    for (const tab of [tab1, tab2]) expect(await tab.next((f) => f.type === 'message')).toMatchObject({ channel: 'chat:room', offset: 2, data: 'live' });
    await other.roundtrip();
    expect(other.frames.some((f) => f.type === 'subscribed' || f.type === 'message')).toBe(false);

    await api.unsubscribe('ss-a', 'chat:room');
    for (const tab of [tab1, tab2]) expect(await tab.next((f) => f.type === 'unsubscribed')).toEqual({ type: 'unsubscribed', channel: 'chat:room' });
    await api.publish('chat:room', 'after');
    await tab1.roundtrip();
    expect(tab1.frames.filter((f) => f.type === 'message').map((f) => f.data)).toEqual(['live']);
    expect((await api.presence('chat:room')).presence).toEqual({});
  });

  it('subscribing an already subscribed connection sends nothing; unsubscribing one that is not sends nothing', async () => {
    const c = await client('ss-c');
    expect((await c.request({ type: 'subscribe', channel: 'live:x' })).type).toBe('error'); // no grant: the client cannot
    await api.subscribe('ss-c', 'live:x');
    await c.next((f) => f.type === 'subscribed' && f.channel === 'live:x');
    await api.subscribe('ss-c', 'live:x');
    await api.unsubscribe('ss-c', 'live:other');
    await c.roundtrip();
    expect(c.frames.filter((f) => f.type === 'subscribed' || f.type === 'unsubscribed')).toHaveLength(1);
    // the client may leave a server-side subscription itself
    expect((await c.request({ type: 'unsubscribe', channel: 'live:x' })).type).toBe('ack');
  });

  it('persist: true subscribes the user\'s future connections (across a restart) until unsubscribed', async () => {
    await api.subscribe('ss-p', 'chat:kept', { persist: true });
    const later = await client('ss-p');
    expect(await later.next((f) => f.type === 'subscribed')).toMatchObject({ channel: 'chat:kept', persist: true });
    later.close();
    await gw.close();
    gw = await startGateway({ apiKeys: [KEY], storage: `sqlite:${join(dir, 'a.db')}`, namespaces: NAMESPACES });
    api = new SwitchboardApi({ url: gw.url, apiKey: KEY });
    const afterRestart = await client('ss-p');
    await afterRestart.next((f) => f.type === 'subscribed' && f.channel === 'chat:kept');
    await api.publish('chat:kept', 'hello');
    expect(await afterRestart.next((f) => f.type === 'message')).toMatchObject({ channel: 'chat:kept', data: 'hello' });
    await api.unsubscribe('ss-p', 'chat:kept');
    await afterRestart.next((f) => f.type === 'unsubscribed');
    const fresh = await client('ss-p');
    await fresh.roundtrip();
    expect(fresh.frames.some((f) => f.type === 'subscribed')).toBe(false);
  });

  it('refuses a bad user, a bad channel and an unknown namespace clearly', async () => {
    const fail = (p: Promise<unknown>) => p.then(() => { throw new Error('expected failure'); }, (e: SwitchboardApiError) => [e.status, e.code, e.field]);
    expect(await fail(api.subscribe('bad user', 'chat:x'))).toEqual([400, 'bad_request', 'user']);
    expect(await fail(api.subscribe('ss-x', 'chat x'))).toEqual([400, 'bad_request', 'channel']);
    expect(await fail(api.subscribe('ss-x', 'nope:x'))).toEqual([404, 'unknown_channel', undefined]);
    expect(await fail(api.call('subscribe', { user: 'ss-x', channel: 'chat:x', persist: 'yes' }))).toEqual([400, 'bad_request', 'persist']);
  });
});

describe('a personal channel belongs to its owner on every path that subscribes a connection', () => {
  /** bob must never see alice's private messages: alice is sent one, and gets it; bob got nothing of #alice. */
  async function bobSeesNothingOfAlice(bob: RawClient, alice: RawClient, aliceId: string): Promise<void> {
    await api.send(aliceId, { secret: 'for alice only' });
    await alice.next((f) => f.type === 'message' && f.channel === `#${aliceId}`);
    await bob.roundtrip();
    expect(bob.frames.filter((f) => f.channel === `#${aliceId}`)).toEqual([]);
  }
  const denied = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a refusal'); }, (e: SwitchboardApiError) => [e.status, e.code, e.message]);

  it('POST /api/subscribe of bob to #alice: 403 permission_denied, and bob gets nothing', async () => {
    const alice = await client('pa-alice');
    const bob = await client('pa-bob');
    expect(await denied(api.subscribe('pa-bob', '#pa-alice'))).toEqual([403, 'permission_denied', '#pa-alice is a personal channel: only user "pa-alice" may be subscribed to it']);
    await bobSeesNothingOfAlice(bob, alice, 'pa-alice');
    // the owner may still be subscribed to her own (here: already, automatically)
    await api.subscribe('pa-alice', '#pa-alice');
  });

  it('with persist: 403, nothing stored, and bob\'s later connections are not subscribed', async () => {
    const alice = await client('pp-alice');
    expect(await denied(api.subscribe('pp-bob', '#pp-alice', { persist: true }))).toEqual([403, 'permission_denied', expect.stringMatching(/only user "pp-alice"/)]);
    expect(await gw.node.serverSubscriptions.list('pp-bob', 100)).toEqual([]);
    const bob = await client('pp-bob');
    await bobSeesNothingOfAlice(bob, alice, 'pp-alice');
  });

  it('a stored subscription naming another user\'s personal channel (left by an older version) is skipped and forgotten', async () => {
    await gw.node.serverSubscriptions.add('ps-bob', '#ps-alice');
    await gw.node.serverSubscriptions.add('ps-bob', 'chat:ps');
    const alice = await client('ps-alice');
    const bob = await client('ps-bob');
    await bob.next((f) => f.type === 'subscribed' && f.channel === 'chat:ps');
    await bobSeesNothingOfAlice(bob, alice, 'ps-alice');
    expect(await gw.node.serverSubscriptions.list('ps-bob', 100)).toEqual(['chat:ps']);
  });

  it('a control message from another node (an older version, or anyone writing to the broker) is refused too', async () => {
    const alice = await client('pc-alice');
    const bob = await client('pc-bob');
    await gw.node.broker.publishControl({ type: 'subscribe', user: 'pc-bob', channel: '#pc-alice', persist: false });
    await gw.node.broker.publishControl({ type: 'subscribe', user: 'pc-bob', channel: 'chat:pc', persist: false });
    await bob.next((f) => f.type === 'subscribed' && f.channel === 'chat:pc');
    await bobSeesNothingOfAlice(bob, alice, 'pc-alice');
  });

  it('a client\'s own subscribe to #alice: permission_denied with the same clear message', async () => {
    const bob = await connectAuthed(gw.wsUrl, 'pk-bob', { channels: ['*'] });
    clients.push(bob);
    expect(await bob.request({ type: 'subscribe', channel: '#pk-alice' })).toMatchObject({ type: 'error', code: 'permission_denied', message: '#pk-alice is a personal channel: only user "pk-alice" may be subscribed to it' });
  });
});

describe('server-side subscriptions in cluster mode (two in-process nodes on a real Redis)', () => {
  let redis: RedisProcess;
  const nodes: Gateway[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) nodes.push(await startGateway({ apiKeys: [KEY], redis: redis.url, storage: 'redis', namespaces: NAMESPACES }));
  });
  afterAll(async () => {
    for (const n of nodes) await n.close();
    await redis.stop();
  });

  it('reaches the user\'s connections on every node, and a persistent one reaches a later connection on the other node', async () => {
    const [a, b] = nodes as [Gateway, Gateway];
    const onA = await connectAuthed(a.wsUrl, 'cl-u');
    const onB = await connectAuthed(b.wsUrl, 'cl-u');
    clients.push(onA, onB);
    const viaA = new SwitchboardApi({ url: a.url, apiKey: KEY });
    await viaA.subscribe('cl-u', 'chat:cluster', { persist: true });
    for (const c of [onA, onB]) await c.next((f) => f.type === 'subscribed' && f.channel === 'chat:cluster');
    const later = await connectAuthed(b.wsUrl, 'cl-u');
    clients.push(later);
    await later.next((f) => f.type === 'subscribed' && f.channel === 'chat:cluster' && f.persist === true);
    await viaA.publish('chat:cluster', 'everywhere');
    for (const c of [onA, onB, later]) await c.next((f) => f.type === 'message' && f.data === 'everywhere');
    await new SwitchboardApi({ url: b.url, apiKey: KEY }).unsubscribe('cl-u', 'chat:cluster');
    for (const c of [onA, onB, later]) await c.next((f) => f.type === 'unsubscribed' && f.channel === 'chat:cluster');
  });
});
