import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CloseCode } from '@switchboard/protocol';
import { unitGateway } from './test-transport.ts';

/**
 * The protocol session without sockets: a Node on memory stores, connections on a
 * TestTransport. Each case runs in milliseconds; the same behaviours are also covered
 * end to end over real WebSockets in `../protocol.test.ts`, `../single-sign-on.test.ts`…
 */
let close: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of close.splice(0)) await c();
});

async function gateway(input: Parameters<typeof unitGateway>[0] = {}) {
  const gw = await unitGateway({ ...input, auth: { allowAnonymous: true, ...input.auth } });
  close.push(() => gw.close());
  return gw;
}

async function login(gw: Awaited<ReturnType<typeof gateway>>, name: string) {
  const c = gw.connect();
  c.send({ type: 'auth', name });
  await c.t.next((f) => f.type === 'auth_success');
  return c;
}

const open = { allowSubscribe: true, allowPublish: true };

describe('unit: commands', () => {
  it('refuses commands before auth, then authenticates, subscribes, publishes and delivers', async () => {
    const gw = await gateway({ namespaces: { chat: open } });
    const a = gw.connect();
    expect(await a.request({ type: 'subscribe', channel: 'chat:x' })).toMatchObject({ type: 'error', code: 'unauthorized' });
    a.send({ type: 'auth', name: 'alice' });
    expect(await a.t.next((f) => f.type === 'auth_success')).toMatchObject({ user: 'alice', resumed: false });
    expect(await a.request({ type: 'subscribe', channel: 'chat:x' })).toMatchObject({ type: 'ack' });
    const b = await login(gw, 'bob');
    expect(await b.request({ type: 'publish', channel: 'chat:x', data: { text: 'hi' } })).toMatchObject({ type: 'ack', duplicate: false });
    expect(await a.t.next((f) => f.type === 'message')).toMatchObject({ channel: 'chat:x', data: { text: 'hi' }, from: 'bob' });
    expect(await a.request({ type: 'subscribe', channel: 'nope:x' })).toMatchObject({ type: 'error', code: 'unknown_channel' });
    expect(await a.request({ type: 'unsubscribe', channel: 'chat:y' })).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  it('closes 3501 on a frame that is not JSON', async () => {
    const gw = await gateway();
    const a = gw.connect();
    a.conn.receive(Buffer.from('not json'), false);
    expect(await a.t.closed()).toBe(CloseCode.bad_request);
  });
});

describe('unit: auth while a store fails', () => {
  it('answers a temporary error (as docs/protocol.md says), keeps the connection, and a retried auth succeeds', async () => {
    const gw = await gateway();
    vi.spyOn(gw.node.sessions, 'create').mockRejectedValueOnce(new Error('store down'));
    const a = gw.connect();
    const answer = await a.request({ type: 'auth', name: 'ann' });
    expect(answer).toEqual({ type: 'error', id: expect.any(String), code: 'internal', message: 'storage or broker temporarily unavailable; retry', temporary: true });
    expect(a.t.closeCode).toBeUndefined();
    a.send({ type: 'auth', name: 'ann' });
    expect(await a.t.next((f) => f.type === 'auth_success')).toMatchObject({ user: expect.stringContaining('ann') });
    const doc = readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8');
    const answers = doc.slice(doc.indexOf('### Answers'), doc.indexOf('## Commands'));
    expect(answers).toContain('{"type":"error","id":1,"code":"internal","message":"storage or broker temporarily unavailable; retry","temporary":true}');
  });
});

describe('unit: heartbeats (fake clock)', () => {
  it('pings at the interval and closes 3012 no_pong when the ping goes unanswered', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const gw = await gateway({ heartbeat: { intervalMs: 10_000, timeoutMs: 4_000 } });
    const a = await login(gw, 'alice');
    const quiet = await login(gw, 'quiet');
    vi.advanceTimersByTime(10_000);
    await a.t.next((f) => f.type === 'ping');
    await quiet.t.next((f) => f.type === 'ping');
    a.send({ type: 'pong' });
    vi.advanceTimersByTime(5_000);
    expect(await quiet.t.closed()).toBe(CloseCode.no_pong);
    expect(a.t.closeCode).toBeUndefined();
  });

  it('closes an unauthenticated connection after auth.timeoutMs', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const gw = await gateway({ auth: { timeoutMs: 2_000 } });
    const a = gw.connect();
    vi.advanceTimersByTime(2_500);
    expect(await a.t.next((f) => f.type === 'auth_failed')).toMatchObject({ reason: 'auth_timeout' });
  });
});

describe('unit: recovery', () => {
  it('replays what a subscriber missed since its position, then delivers live without a duplicate', async () => {
    const gw = await gateway({ namespaces: { chat: { ...open, history: { size: 100, ttl: '1h' } } } });
    const p = await login(gw, 'pub');
    const acks = [];
    for (let i = 1; i <= 4; i++) acks.push(await p.request({ type: 'publish', channel: 'chat:r', data: { i } }));
    const s = await login(gw, 'sub');
    const ack = await s.request({ type: 'subscribe', channel: 'chat:r', since: { epoch: acks[0].epoch, offset: acks[1].offset } });
    expect(ack).toMatchObject({ recovered: true, epoch: acks[0].epoch });
    expect(ack.publications.map((x: any) => x.data.i)).toEqual([3, 4]);
    await p.request({ type: 'publish', channel: 'chat:r', data: { i: 5 } });
    await s.t.next((f) => f.type === 'message' && f.data.i === 5);
    expect(s.t.frames.filter((f) => f.type === 'message').map((f) => f.data.i)).toEqual([5]);
  });
});

describe('unit: single sign-on', () => {
  it('kick_oldest: a second login of the same user replaces the first (3504 session_replaced)', async () => {
    const gw = await gateway({ sessions: { maxPerUser: 1, onLimit: 'kick_oldest' } });
    const first = await login(gw, 'alice');
    await login(gw, 'alice');
    expect(await first.t.closed()).toBe(CloseCode.session_replaced);
  });

  it('reject_new: the second login is refused and the first stays', async () => {
    const gw = await gateway({ sessions: { maxPerUser: 1, onLimit: 'reject_new' } });
    const first = await login(gw, 'alice');
    const second = gw.connect();
    second.send({ type: 'auth', name: 'alice' });
    expect(await second.t.next((f) => f.type === 'auth_failed')).toMatchObject({ reason: 'session_limit' });
    expect(first.t.closeCode).toBeUndefined();
  });
});
