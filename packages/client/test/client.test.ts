import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Disconnect } from '@switchboard/protocol';
import { startGateway, token } from '../../server/test/helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';
import { SwitchboardError, UnauthorizedError, type Publication } from '../src/index.ts';
import { NAMESPACES, closeClients, makeClient, record, until } from './helpers.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({ namespaces: NAMESPACES, presence: { offlineGraceMs: 50 } });
});
afterEach(() => closeClients());
afterAll(() => gw.close());

/** The gateway's live connection of a user. */
const serverConn = (user: string) => [...gw.node.connections].find((c) => c.user === user && c.state === 'ready');

describe('Switchboard client against the real gateway', () => {
  it('connects with the token in the auth frame, subscribes, publishes with an acked offset, receives it once', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('alice') });
    const ev = record(c);
    // typed payload: `m.data` is `{ text: string }` to the compiler (tsc checks this file)
    const sub = c.subscribe<{ text: string }>('chat:basic');
    const got: Publication[] = [];
    const texts: string[] = [];
    sub.on('message', (m) => { got.push(m); texts.push(m.data.text); });
    await sub.ready();
    expect(c.state).toBe('connected');
    expect(c.user).toBe('alice');
    expect(ev.log.slice(0, 2)).toEqual(['connecting', 'connected']);
    expect(c.url).toContain('batch=1');
    expect(c.url).not.toContain('token');
    const r = await c.publish('chat:basic', { text: 'hi' });
    expect(r).toMatchObject({ offset: 1, duplicate: false });
    expect(r.id).toMatch(/^m-[0-9a-f]{32}$/);
    await waitFor(() => got.length === 1);
    expect(got[0]).toMatchObject({ channel: 'chat:basic', data: { text: 'hi' }, offset: 1, from: 'alice', id: r.id });
    expect(texts).toEqual(['hi']);
    // the same id again is acknowledged as a duplicate and not delivered again
    expect(await c.publish('chat:basic', { text: 'hi' }, { id: r.id })).toMatchObject({ offset: 1, duplicate: true });
    await c.publish('chat:basic', { text: 'after' });
    await waitFor(() => got.length === 2);
    expect(got.map((m) => m.offset)).toEqual([1, 2]);
  });

  it('rejects a refused call with the server error code; bad input throws a clear TypeError', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('bob') });
    await until(c, 'connected');
    const err = await c.publish('locked:x', 1).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err.code).toBe('permission_denied');
    expect(err.temporary).toBe(false);
    await expect(c.publish('bad channel!', 1)).rejects.toThrow(/characters outside/);
    await expect(c.publish('chat:x', undefined)).rejects.toThrow(/data is required/);
    await expect(c.send('not a user', 1)).rejects.toThrow(/user id/);
    expect(() => c.subscribe('chat:*')).toThrow(TypeError);
    const sub = c.subscribe('locked:room');
    const refused = await sub.ready().catch((e) => e);
    expect(refused.code).toBe('permission_denied');
    expect(sub.state).toBe('unsubscribed');
    expect(c.getSubscription('locked:room')).toBeUndefined();
  });

  it('answers server pings with pong and stays connected', async () => {
    const g = await startGateway({ namespaces: NAMESPACES, heartbeat: { intervalMs: 200, timeoutMs: 150 } });
    try {
      const c = makeClient(g.wsUrl, { token: await token('pinger') });
      const ev = record(c);
      await until(c, 'connected');
      const conn = [...g.node.connections][0]!;
      const firstPing = conn.nextPingAt;
      await waitFor(() => conn.nextPingAt > firstPing + 400, 5000, 'three pings');
      expect(conn.state).toBe('ready');
      expect(ev.count('disconnected')).toBe(0);
    } finally {
      await g.close();
    }
  });

  it('offline queue: calls wait while disconnected and leave in order on connect; overflow rejects the new call', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('queuer'), autoConnect: false, offlineQueue: { max: 3 } });
    const sub = c.subscribe('chat:queue');
    const got: unknown[] = [];
    sub.on('message', (m) => got.push(m.data));
    const calls = [1, 2, 3].map((n) => c.publish('chat:queue', n));
    expect(c.queued).toBe(3);
    const overflow = await c.publish('chat:queue', 4).catch((e) => e);
    expect(overflow).toBeInstanceOf(SwitchboardError);
    expect(overflow.code).toBe('queue_full');
    c.connect();
    const acks = await Promise.all(calls);
    expect(acks.map((a) => a.offset)).toEqual([1, 2, 3]);
    await waitFor(() => got.length === 3);
    expect(got).toEqual([1, 2, 3]);
  });

  it('offline queue with overflow "reject-oldest" rejects the oldest waiting call instead', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('queuer2'), autoConnect: false, offlineQueue: { max: 2, overflow: 'reject-oldest' } });
    const first = c.publish('chat:queue2', 'a').catch((e) => e);
    const second = c.publish('chat:queue2', 'b');
    const third = c.publish('chat:queue2', 'c');
    expect((await first).code).toBe('queue_full');
    c.connect();
    expect((await second).offset).toBe(1);
    expect((await third).offset).toBe(2);
  });

  it('close() rejects queued calls and never reconnects', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('closer'), autoConnect: false });
    const p = c.publish('chat:x', 1).catch((e) => e);
    c.close();
    expect((await p).code).toBe('closed');
    expect(c.state).toBe('closed');
    await expect(c.publish('chat:x', 1)).rejects.toMatchObject({ code: 'closed' });
    c.connect(); // undoes close()
    await until(c, 'connected');
  });

  it('a terminal close code (invalid token: auth_failed 3500) stops reconnecting', async () => {
    const c = makeClient(gw.wsUrl, { token: 'not-a-jwt' });
    const ev = record(c);
    await until(c, 'closed');
    expect(ev.log).toEqual(['connecting', 'closed:3500:invalid_token']);
    const before = gw.node.connections.size;
    await new Promise((r) => setTimeout(r, 300)); // several backoff periods: nothing happens
    expect(ev.log).toHaveLength(2);
    expect(gw.node.connections.size).toBe(before);
  });

  it('a forced disconnect (3503) is terminal; a temporary one (3000) reconnects', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('forced') });
    const ev = record(c);
    await until(c, 'connected');
    serverConn('forced')!.terminate(new Disconnect(3000, 'reconnect'));
    await waitFor(() => ev.count('connected') === 2);
    expect(ev.log).toContain('disconnected:3000:reconnect');
    serverConn('forced')!.terminate(new Disconnect(3503, 'forced'));
    await until(c, 'closed');
    expect(ev.log.at(-1)).toBe('closed:3503:forced');
  });

  it('kicked: a login elsewhere (single sign-on, 3504 session_replaced) emits kicked, then closed, and does not reconnect', async () => {
    const g = await startGateway({ namespaces: NAMESPACES, sessions: { maxPerUser: 1, onLimit: 'kick_oldest' } });
    try {
      const first = makeClient(g.wsUrl, { token: await token('kicky') });
      const ev = record(first);
      await until(first, 'connected');
      const second = makeClient(g.wsUrl, { token: await token('kicky') }); // its own storage: another login
      await until(second, 'connected');
      await until(first, 'closed');
      expect(ev.log.slice(-2)).toEqual(['kicked:3504:session_replaced', 'closed:3504:session_replaced']);
      await new Promise((r) => setTimeout(r, 300)); // several backoff periods: no reconnect
      expect(ev.count('connecting')).toBe(1);
      expect(second.state).toBe('connected');
    } finally {
      await g.close();
    }
  });

  it('a login refused at the session limit (reject_new: auth_failed 3504 session_limit) closes without kicked', async () => {
    const g = await startGateway({ namespaces: NAMESPACES, sessions: { maxPerUser: 1, onLimit: 'reject_new' } });
    try {
      const first = makeClient(g.wsUrl, { token: await token('limited') });
      await until(first, 'connected');
      const second = makeClient(g.wsUrl, { token: await token('limited') });
      const ev = record(second);
      await until(second, 'closed');
      expect(ev.log).toEqual(['connecting', 'closed:3504:session_limit']);
      expect(first.state).toBe('connected');
    } finally {
      await g.close();
    }
  });

  it('honours reconnectAfterMs of a 3001 shutdown', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('drained') });
    const delays: Array<number | null> = [];
    c.on('disconnected', (e) => delays.push(e.reconnectInMs));
    await until(c, 'connected');
    serverConn('drained')!.terminate(new Disconnect(3001, 'shutdown', 1234));
    await waitFor(() => delays.length === 1);
    expect(delays).toEqual([1234]);
    c.connect(); // the app may skip the wait
    await until(c, 'connected');
  });

  it('a provider that throws an unauthorized error stops reconnecting', async () => {
    let calls = 0;
    const c = makeClient(gw.wsUrl, { token: () => { calls++; throw new UnauthorizedError('logged out'); } });
    const ev = record(c);
    await until(c, 'closed');
    expect(ev.log).toEqual(['connecting', 'closed:3500:unauthorized']);
    expect(calls).toBe(1);
  });

  it('a provider that fails otherwise is retried with backoff', async () => {
    let calls = 0;
    const good = await token('flaky');
    const c = makeClient(gw.wsUrl, { token: async () => { if (++calls < 3) throw new Error('backend down'); return good; } });
    const ev = record(c);
    await until(c, 'connected');
    expect(calls).toBe(3);
    expect(ev.log.filter((l) => l.startsWith('disconnected'))).toEqual(['disconnected:1006:token_provider_failed', 'disconnected:1006:token_provider_failed']);
  });

  it('session resume: presents the kept session id on reconnect', async () => {
    const c = makeClient(gw.wsUrl, { token: await token('resumer') });
    const resumed: boolean[] = [];
    c.on('connected', (e) => resumed.push(e.resumed));
    await until(c, 'connected');
    const session = serverConn('resumer')!.identity!.session;
    serverConn('resumer')!.terminate(new Disconnect(3000, 'reconnect'));
    await waitFor(() => resumed.length === 2);
    expect(resumed).toEqual([false, true]);
    expect(serverConn('resumer')!.identity!.session).toBe(session);
  });

  it('private messages sent while the recipient reconnects arrive once, in order (recovery of the personal channel)', async () => {
    const sender = makeClient(gw.wsUrl, { token: await token('sender') });
    const rcpt = makeClient(gw.wsUrl, { token: await token('rcpt') });
    const inbox = rcpt.subscribe('#rcpt');
    const got: number[] = [];
    let recoveries = 0;
    inbox.on('message', (m) => got.push((m.data as { n: number }).n));
    inbox.on('recovered', () => recoveries++);
    await inbox.ready();
    await until(sender, 'connected');
    await sender.send('rcpt', { n: 0 });
    for (let round = 1; round <= 3; round++) {
      serverConn('rcpt')!.terminate(new Disconnect(3000, 'reconnect'));
      for (let i = 0; i < 10; i++) await sender.send('rcpt', { n: round * 10 + i }); // before, during and after the reconnect
      await waitFor(() => recoveries === round, 5000, `recovery ${round}`);
    }
    const expected = [0, ...Array.from({ length: 30 }, (_, i) => 10 + i)];
    await waitFor(() => got.length >= expected.length, 5000, 'every private message');
    expect(got).toEqual(expected);
  });

  it('presence, send, online/offline user events, join/leave on subscriptions', async () => {
    const a = makeClient(gw.wsUrl, { token: await token('amy') });
    const b = makeClient(gw.wsUrl, { token: await token('ben') });
    const room = a.subscribe('chat:people');
    const joins: string[] = [];
    room.on('join', (e) => joins.push(`join:${e.user}`));
    room.on('leave', (e) => joins.push(`leave:${e.user}`));
    await room.ready();
    await b.subscribe('chat:people').ready();
    const who = await a.presence('chat:people');
    expect(Object.keys(who).sort()).toEqual(['amy', 'ben']);
    expect(who.ben).toMatchObject({ user: 'ben', connections: 1 });
    // a private message: the ack carries the offset in ben's personal channel
    const inbox = b.subscribe('#ben');
    const dms: unknown[] = [];
    inbox.on('message', (m) => dms.push(m.data));
    await inbox.ready();
    expect(await a.send('ben', { text: 'psst' })).toMatchObject({ offset: 1, duplicate: false });
    await waitFor(() => dms.length === 1);
    expect(dms).toEqual([{ text: 'psst' }]);
    // carl comes and goes: amy sees him online, joining, leaving and offline
    const seen: string[] = [];
    a.on('online', (e) => { if (e.user === 'carl') seen.push('online'); });
    a.on('offline', (e) => { if (e.user === 'carl') seen.push('offline'); });
    const carl = makeClient(gw.wsUrl, { token: await token('carl') });
    await carl.subscribe('chat:people').ready();
    await waitFor(() => joins.includes('join:carl') && seen.includes('online'), 5000, 'carl online and joined');
    carl.close();
    await waitFor(() => joins.includes('leave:carl') && seen.includes('offline'), 5000, 'carl left and offline');
    expect(seen).toEqual(['online', 'offline']);
    expect(joins.filter((j) => j.endsWith(':carl'))).toEqual(['join:carl', 'leave:carl']);
  });
});
