import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, startGateway, token } from './helpers.ts';
import { parseConfig, type ConfigInput } from '../src/index.ts';
import { waitFor } from '../../../test/support/ports.ts';

const clients: RawClient[] = [];
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function gateway(options: ConfigInput = {}) {
  const gw = await startGateway(options);
  servers.push(gw);
  return gw;
}

async function connect(wsUrl: string, user: string, claims: Record<string, unknown> = {}): Promise<RawClient> {
  const c = new RawClient(`${wsUrl}?token=${await token(user, claims)}`);
  clients.push(c);
  await c.next((f) => f.type === 'auth_success');
  return c;
}

/** A round trip: every frame the server had queued before it has arrived. */
async function settled(c: RawClient): Promise<void> {
  const id = `p${Math.random()}`;
  c.send({ type: 'ping', id });
  await c.next((f) => f.type === 'pong' && f.id === id);
}

/** How many times a publication with this id reached the client, live or replayed. */
function deliveries(c: RawClient, channel: string, id: string): number {
  let n = 0;
  for (const f of c.frames) {
    if (f.type === 'message' && f.channel === channel && f.id === id) n++;
    if (f.type === 'ack' && Array.isArray(f.publications)) n += f.publications.filter((p: any) => p.channel === channel && p.id === id).length;
  }
  return n;
}

describe('private messages', () => {
  it('reach an offline recipient on reconnect, exactly once, and the sender\'s other tabs', async () => {
    const gw = await gateway();
    let bob = await connect(gw.wsUrl, 'bob');
    const first = await bob.request({ type: 'subscribe', channel: '#bob' });
    expect(first).toMatchObject({ type: 'ack', offset: 0 });
    const position = { epoch: first.epoch, offset: first.offset };
    bob.close();

    const alice = await connect(gw.wsUrl, 'alice');
    const aliceTab2 = await connect(gw.wsUrl, 'alice');
    await settled(aliceTab2);
    expect(await alice.request({ type: 'send', id: 'm1', to: 'bob', data: { text: 'hi bob' } })).toMatchObject({ type: 'ack', id: 'm1', offset: 1, duplicate: false });
    // A retry of the same id is not stored twice.
    alice.send({ type: 'send', id: 'm1', to: 'bob', data: { text: 'hi bob' } });
    await waitFor(() => alice.frames.filter((f) => f.type === 'ack' && f.id === 'm1').length === 2, 5000, 'second ack');
    expect(alice.frames.filter((f) => f.type === 'ack' && f.id === 'm1')[1]).toMatchObject({ offset: 1, duplicate: true });
    expect(await aliceTab2.next((f) => f.type === 'message' && f.channel === '#alice' && f.id === 'm1')).toMatchObject({ from: 'alice', data: { text: 'hi bob' } });
    await alice.request({ type: 'send', id: 'm2', to: 'bob', data: { text: 'still there?' } });

    // Bob comes back: auto-subscribed at once; a message sent before his explicit subscribe arrives live.
    bob = await connect(gw.wsUrl, 'bob');
    await settled(bob);
    await alice.request({ type: 'send', id: 'm3', to: 'bob', data: { text: 'now?' } });
    await bob.next((f) => f.type === 'message' && f.id === 'm3');
    const ack = await bob.request({ type: 'subscribe', channel: '#bob', since: position });
    // From the unwritten position ("0"/0): the stream's first epoch, replayed from offset 1.
    expect(position.epoch).toBe('0');
    expect(ack).toMatchObject({ type: 'ack', recovered: true, epoch: alice.frames.find((f) => f.type === 'ack' && f.id === 'm1').epoch, offset: 2 });
    expect(ack.publications.map((p: any) => [p.id, p.offset, p.from])).toEqual([['m1', 1, 'alice'], ['m2', 2, 'alice']]);
    await alice.request({ type: 'send', id: 'm4', to: 'bob', data: { text: 'live' } });
    await bob.next((f) => f.type === 'message' && f.id === 'm4');
    await settled(bob);
    for (const id of ['m1', 'm2', 'm3', 'm4']) expect(deliveries(bob, '#bob', id), id).toBe(1);
    // A second explicit subscribe is an ordinary "already subscribed".
    expect(await bob.request({ type: 'subscribe', channel: '#bob' })).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  it('since or rewind on the automatic personal subscription without an id: a clear error, and a retry with an id still replays', async () => {
    const gw = await gateway();
    const alice = await connect(gw.wsUrl, 'alice');
    await alice.request({ type: 'send', id: 'z1', to: 'bob', data: 1 });
    const bob = await connect(gw.wsUrl, 'bob');
    await settled(bob);
    bob.send({ type: 'subscribe', channel: '#bob', since: { epoch: '0', offset: 0 } });
    const refused = await bob.next((f) => f.type === 'error');
    expect(refused).toMatchObject({ code: 'bad_request' });
    expect(refused.message).toMatch(/with an id/);
    bob.send({ type: 'subscribe', channel: '#bob', rewind: 5 });
    expect(await bob.next((f) => f.type === 'error' && f !== refused)).toMatchObject({ code: 'bad_request' });
    const ack = await bob.request({ type: 'subscribe', channel: '#bob', since: { epoch: '0', offset: 0 } });
    expect(ack).toMatchObject({ type: 'ack', recovered: true });
    expect(ack.publications.map((p: any) => p.id)).toEqual(['z1']);
  });

  it('the explicit subscribe after a fresh connect without since just reports the live position', async () => {
    const gw = await gateway();
    const alice = await connect(gw.wsUrl, 'alice');
    await alice.request({ type: 'send', id: 'x1', to: 'bob', data: 1 });
    const bob = await connect(gw.wsUrl, 'bob');
    expect(await bob.request({ type: 'subscribe', channel: '#bob' })).toMatchObject({ type: 'ack', offset: 1 });
    expect(deliveries(bob, '#bob', 'x1')).toBe(0);
    // History still has it for a client that wants to page back.
    const h = await bob.request({ type: 'history', channel: '#bob', limit: 10 });
    expect(h.publications.map((p: any) => p.id)).toEqual(['x1']);
  });

  it('unsubscribing the personal channel stops delivery; subscribing again is an ordinary subscribe', async () => {
    const gw = await gateway();
    const bob = await connect(gw.wsUrl, 'bob');
    const alice = await connect(gw.wsUrl, 'alice');
    expect(await bob.request({ type: 'unsubscribe', channel: '#bob' })).toMatchObject({ type: 'ack' });
    await alice.request({ type: 'send', id: 'y1', to: 'bob', data: 1 });
    const again = await bob.request({ type: 'subscribe', channel: '#bob', since: { epoch: (await bob.request({ type: 'history', channel: '#bob', limit: 0 })).epoch, offset: 0 } });
    expect(again.publications.map((p: any) => p.id)).toEqual(['y1']);
    expect(await bob.request({ type: 'subscribe', channel: '#bob' })).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  it('autoSubscribe: false leaves the personal channel to the client', async () => {
    const gw = await gateway({ namespaces: { '': {}, '#': { autoSubscribe: false } } });
    const bob = await connect(gw.wsUrl, 'bob');
    const alice = await connect(gw.wsUrl, 'alice');
    await alice.request({ type: 'send', id: 'z1', to: 'bob', data: 1 });
    await settled(bob);
    expect(deliveries(bob, '#bob', 'z1')).toBe(0);
    // History stays on for "#" unless turned off, so the message is there.
    const ack = await bob.request({ type: 'subscribe', channel: '#bob', since: { epoch: (await bob.request({ type: 'history', channel: '#bob', limit: 0 })).epoch, offset: 0 } });
    expect(ack.publications.map((p: any) => p.id)).toEqual(['z1']);
    expect(() => parseConfig({ namespaces: { chat: { autoSubscribe: true } } })).toThrow(/namespaces\.chat\.autoSubscribe/);
  });

  it('who may send to whom: the "#" namespace, and the token\'s send claim', async () => {
    const off = await gateway({ namespaces: { '#': { directMessages: false } } });
    const a = await connect(off.wsUrl, 'alice');
    expect(await a.request({ type: 'send', to: 'bob', data: 1 })).toMatchObject({ type: 'error', code: 'permission_denied' });

    const gw = await gateway();
    const limited = await connect(gw.wsUrl, 'alice', { send: ['support-*', 'carol'] });
    expect(await limited.request({ type: 'send', to: 'bob', data: 1 })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect(await limited.request({ type: 'send', to: 'carol', data: 1 })).toMatchObject({ type: 'ack' });
    expect(await limited.request({ type: 'send', to: 'support-7', data: 1 })).toMatchObject({ type: 'ack' });
    expect(await limited.request({ type: 'send', to: 'alice', data: 'note to self' })).toMatchObject({ type: 'ack' });
    const nobody = await connect(gw.wsUrl, 'dave', { send: [] });
    expect(await nobody.request({ type: 'send', to: 'carol', data: 1 })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect(await nobody.request({ type: 'send', to: 'not a user', data: 1 })).toMatchObject({ type: 'error', code: 'bad_request' });
    const free = await connect(gw.wsUrl, 'erin');
    expect(await free.request({ type: 'send', to: 'bob', data: 1 })).toMatchObject({ type: 'ack' });
  });
});
