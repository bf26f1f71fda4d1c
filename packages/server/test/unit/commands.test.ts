import { afterEach, describe, expect, it } from 'vitest';
import { unitGateway } from './test-transport.ts';
import { waitFor } from '../../../../test/support/ports.ts';

/**
 * Protocol v1's commands against a node on memory stores, no sockets: each answer (ack or
 * error code) as docs/protocol.md gives it. End to end over WebSocket: `../protocol.test.ts`.
 */
let close: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of close.splice(0)) await c();
});

const open = { allowSubscribe: true, allowPublish: true };

async function gateway() {
  const gw = await unitGateway({
    auth: { allowAnonymous: true },
    limits: { maxChannelsPerConnection: 3, maxRewind: 5 },
    namespaces: { chat: { ...open, history: { size: 100, ttl: '1h' }, presence: true }, live: open, '#': { directMessages: true } },
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

describe('unit: protocol v1 commands', () => {
  it('ping answers pong with its id, before and after authentication; a second auth is refused', async () => {
    const gw = await gateway();
    const c = gw.connect();
    c.send({ type: 'ping', id: 'p1' });
    expect(await c.t.next((f) => f.type === 'pong')).toEqual({ type: 'pong', id: 'p1' });
    c.send({ type: 'auth', name: 'ann' });
    await c.t.next((f) => f.type === 'auth_success');
    expect(await c.request({ type: 'auth', name: 'ann' })).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  it('subscribe: checks history, rewind and the channel limit; a second subscribe is refused', async () => {
    const gw = await gateway();
    const c = await login(gw, 'ann');
    expect(await c.request({ type: 'subscribe', channel: 'live:a', since: { epoch: 'e', offset: 0 } })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await c.request({ type: 'subscribe', channel: 'chat:a', rewind: 6 })).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    expect(await c.request({ type: 'subscribe', channel: 'chat:a', rewind: 5 })).toMatchObject({ type: 'ack', offset: 0, publications: [] });
    expect(await c.request({ type: 'subscribe', channel: 'chat:a' })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await c.request({ type: 'subscribe', channel: 'live:b' })).toMatchObject({ type: 'ack' });
    // The personal channel counts too: #ann, chat:a, live:b.
    expect(await c.request({ type: 'subscribe', channel: 'live:c' })).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    expect(await c.request({ type: 'unsubscribe', channel: 'live:b' })).toMatchObject({ type: 'ack' });
    expect(await c.request({ type: 'unsubscribe', channel: 'live:b' })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await c.request({ type: 'subscribe', channel: 'live:c' })).toMatchObject({ type: 'ack' });
  });

  it('publish: acked with the stored offset once, a repeated id is a duplicate and not delivered again', async () => {
    const gw = await gateway();
    const sub = await login(gw, 'sub');
    await sub.request({ type: 'subscribe', channel: 'chat:p' });
    const pub = await login(gw, 'pub');
    expect(await pub.request({ type: 'publish', id: 'k1', channel: 'chat:p', data: 1 })).toMatchObject({ type: 'ack', offset: 1, duplicate: false });
    expect(await pub.request({ type: 'publish', id: 'k1', channel: 'chat:p', data: 1 })).toMatchObject({ type: 'ack', offset: 1, duplicate: true });
    expect(await pub.request({ type: 'publish', channel: 'chat:p', data: 2 })).toMatchObject({ type: 'ack', offset: 2 });
    await sub.t.next((f) => f.type === 'message' && f.data === 2);
    expect(sub.t.frames.filter((f) => f.type === 'message').map((f) => [f.data, f.offset, f.from])).toEqual([[1, 1, 'pub'], [2, 2, 'pub']]);
    expect(await pub.request({ type: 'publish', channel: 'nope:p', data: 1 })).toMatchObject({ type: 'error', code: 'unknown_channel' });
  });

  it('send: a private message reaches the recipient\'s personal channel and the sender\'s other tabs', async () => {
    const gw = await gateway();
    const bob = await login(gw, 'bob');
    const annTab = await login(gw, 'ann');
    const ann = await login(gw, 'ann');
    // Their automatic personal subscriptions deliver what is published once they are live.
    for (const c of [bob, annTab, ann]) await waitFor(() => [...c.conn.subscriptions.values()][0]?.state === 'live', 5000, 'live');
    expect(await ann.request({ type: 'send', to: 'bob', data: 'hi' })).toMatchObject({ type: 'ack', offset: 1 });
    expect(await bob.t.next((f) => f.type === 'message')).toMatchObject({ channel: '#bob', data: 'hi', from: 'ann' });
    expect(await annTab.t.next((f) => f.type === 'message')).toMatchObject({ channel: '#ann', data: 'hi', from: 'ann' });
    expect(await ann.request({ type: 'send', to: '', data: 'x' })).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  it('history pages what a channel keeps; presence lists who is subscribed; both refuse where the namespace has neither', async () => {
    const gw = await gateway();
    const c = await login(gw, 'ann');
    for (let n = 1; n <= 3; n++) await c.request({ type: 'publish', channel: 'chat:h', data: n });
    const page = await c.request({ type: 'history', channel: 'chat:h', limit: 2 });
    expect(page).toMatchObject({ type: 'ack', offset: 3, more: true });
    expect(page.publications.map((p: { data: number }) => p.data)).toEqual([1, 2]);
    expect(await c.request({ type: 'history', channel: 'live:h' })).toMatchObject({ type: 'error', code: 'not_available' });
    await c.request({ type: 'subscribe', channel: 'chat:h' });
    const presence = await c.request({ type: 'presence', channel: 'chat:h' });
    expect(Object.keys(presence.presence)).toEqual(['ann']);
    expect(await c.request({ type: 'presence', channel: 'live:h' })).toMatchObject({ type: 'error', code: 'not_available' });
  });

  it('refresh and rpc say what they need: a token (anonymous has none), an rpc backend', async () => {
    const gw = await gateway();
    const c = await login(gw, 'ann');
    expect(await c.request({ type: 'refresh', token: 'x' })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await c.request({ type: 'rpc', method: 'm' })).toMatchObject({ type: 'error', code: 'not_available' });
  });
});
