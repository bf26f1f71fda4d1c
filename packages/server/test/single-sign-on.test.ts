import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, connectAuthed, startGateway, token } from './helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';
import type { ConfigInput } from '../src/index.ts';

const clients: RawClient[] = [];
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function gateway(options: ConfigInput) {
  const gw = await startGateway(options);
  servers.push(gw);
  return gw;
}

async function login(wsUrl: string, user: string, sid?: string, session?: string): Promise<RawClient> {
  const t = await token(user, sid ? { sid } : {});
  const c = new RawClient(`${wsUrl}?token=${t}${session ? `&session=${session}` : ''}`);
  clients.push(c);
  await c.next((f) => f.type === 'auth_success' || f.type === 'auth_failed');
  return c;
}

/** A round trip: proves the connection is up and every earlier frame was processed. */
async function alive(c: RawClient): Promise<void> {
  const id = `p${Math.random()}`;
  c.send({ type: 'ping', id });
  await c.next((f) => f.type === 'pong' && f.id === id);
  expect(c.closeCode).toBeUndefined();
}

const KICKED = { type: 'disconnect', code: 3504, reason: 'session_replaced' };

describe('single sign-on, deployment policy', () => {
  it('kick_oldest: a new login closes every tab of the older login with 3504; the new one stays', async () => {
    const gw = await gateway({ sessions: { maxPerUser: 1, onLimit: 'kick_oldest' } });
    const a1 = await login(gw.wsUrl, 'alice', 'login-A');
    const a2 = await login(gw.wsUrl, 'alice', 'login-A');
    await alive(a1);
    await alive(a2);
    const b = await login(gw.wsUrl, 'alice', 'login-B');
    expect(b.frames[0].type).toBe('auth_success');
    for (const tab of [a1, a2]) {
      expect(await tab.waitClose()).toBe(3504);
      expect(tab.frames.at(-1)).toEqual(KICKED);
      expect(tab.closeReason).toBe('session_replaced');
    }
    await alive(b);
    expect(await gw.node.logins.logins('*', 'alice')).toEqual(['login-B']);
    expect(gw.node.hub.connectionsOf('alice').size).toBe(1);
    // Another user is never touched.
    const carol = await login(gw.wsUrl, 'carol', 'login-C');
    await alive(carol);
    await alive(b);
  });

  it('tabs of one login (same sid) never kick each other', async () => {
    const gw = await gateway({ sessions: { maxPerUser: 1, onLimit: 'kick_oldest' } });
    const tabs = [];
    for (let i = 0; i < 4; i++) tabs.push(await login(gw.wsUrl, 'alice', 'login-A'));
    for (const t of tabs) await alive(t);
    expect(tabs.every((t) => !t.frames.some((f) => f.type === 'disconnect'))).toBe(true);
    expect(await gw.node.logins.logins('*', 'alice')).toEqual(['login-A']);
  });

  it('without sid the gateway session is the login: tabs sharing it stay, a new session kicks them', async () => {
    const gw = await gateway({ sessions: { maxPerUser: 1, onLimit: 'kick_oldest' } });
    const t1 = await login(gw.wsUrl, 'alice');
    const session = t1.frames[0].session as string;
    const t2 = await login(gw.wsUrl, 'alice', undefined, session);
    expect(t2.frames[0]).toMatchObject({ type: 'auth_success', session, resumed: true });
    await alive(t1);
    await alive(t2);
    const other = await login(gw.wsUrl, 'alice');
    expect(other.frames[0].session).not.toBe(session);
    expect(await t1.waitClose()).toBe(3504);
    expect(await t2.waitClose()).toBe(3504);
    await alive(other);
  });

  it('logins authenticating at the same moment: exactly one survives, the registry agrees', async () => {
    const gw = await gateway({ sessions: { maxPerUser: 1, onLimit: 'kick_oldest' } });
    for (let round = 0; round < 4; round++) {
      const user = `racer${round}`;
      const [ta, tb] = await Promise.all([token(user, { sid: 'A' }), token(user, { sid: 'B' })]);
      const pair = [new RawClient(`${gw.wsUrl}?token=${ta}`), new RawClient(`${gw.wsUrl}?token=${tb}`)];
      clients.push(...pair);
      await Promise.all(pair.map((c) => c.next((f) => f.type === 'auth_success' || f.type === 'auth_failed')));
      await waitFor(() => pair.filter((c) => c.closeCode === 3504).length >= 1, 5000, 'one login replaced');
      const up = pair.filter((c) => c.closeCode === undefined);
      expect(up).toHaveLength(1);
      await alive(up[0]!);
      expect(await gw.node.logins.logins('*', user)).toEqual([up[0] === pair[0] ? 'A' : 'B']);
      expect(gw.node.hub.connectionsOf(user).size).toBe(1);
    }
  });

  it('a login evicted while it is still authenticating is closed, not let in', async () => {
    const gw = await gateway({ sessions: { maxPerUser: 1, onLimit: 'kick_oldest' } });
    const sso = gw.node.sso;
    const enter = sso.enterNamespace.bind(sso);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => { open = resolve; });
    // Hold login A between its admission and its arrival in the hub (as a slow cluster store would).
    sso.enterNamespace = async (conn, ns) => {
      if (conn.identity!.login === 'A') await gate;
      return enter(conn, ns);
    };
    const a = new RawClient(`${gw.wsUrl}?token=${await token('alice', { sid: 'A' })}`);
    clients.push(a);
    await waitFor(async () => (await gw.node.logins.logins('*', 'alice')).includes('A'), 5000, 'A admitted');
    const b = await login(gw.wsUrl, 'alice', 'B');
    open();
    expect(await a.waitClose()).toBe(3504);
    expect(a.frames).toEqual([KICKED]);
    await alive(b);
  });

  it('maxPerUser 2 keeps the two newest logins', async () => {
    const gw = await gateway({ sessions: { maxPerUser: 2 } });
    const a = await login(gw.wsUrl, 'alice', 'A');
    const b = await login(gw.wsUrl, 'alice', 'B');
    await alive(a);
    const c = await login(gw.wsUrl, 'alice', 'C');
    expect(await a.waitClose()).toBe(3504);
    await alive(b);
    await alive(c);
    expect(await gw.node.logins.logins('*', 'alice')).toEqual(['B', 'C']);
  });

  it('reject_new: the new login is refused with auth_failed 3504 session_limit; the old stays', async () => {
    const gw = await gateway({ sessions: { maxPerUser: 1, onLimit: 'reject_new' } });
    const a1 = await login(gw.wsUrl, 'alice', 'login-A');
    const a2 = await login(gw.wsUrl, 'alice', 'login-A');
    const b = await login(gw.wsUrl, 'alice', 'login-B');
    expect(b.frames[0]).toEqual({ type: 'auth_failed', code: 3504, reason: 'session_limit' });
    expect(await b.waitClose()).toBe(3504);
    await alive(a1);
    await alive(a2);
    // Once login A is gone entirely, B may log in.
    a1.close();
    a2.close();
    await waitFor(async () => (await gw.node.logins.logins('*', 'alice')).length === 0, 5000, 'login A released');
    const b2 = await login(gw.wsUrl, 'alice', 'login-B');
    expect(b2.frames[0].type).toBe('auth_success');
  });
});

describe('single sign-on, namespace policy', () => {
  const ns = (onLimit: 'kick_oldest' | 'reject_new'): ConfigInput => ({
    namespaces: { '': { allowSubscribe: true }, game: { allowSubscribe: true, sessions: { maxPerUser: 1, onLimit } } },
  });

  it('reject_new: a second login may connect but not use the namespace while the first does', async () => {
    const gw = await gateway(ns('reject_new'));
    const a = await login(gw.wsUrl, 'alice', 'A');
    const b = await login(gw.wsUrl, 'alice', 'B');
    expect(b.frames[0].type).toBe('auth_success');
    expect(await a.request({ type: 'subscribe', channel: 'game:1' })).toMatchObject({ type: 'ack' });
    expect(await a.request({ type: 'subscribe', channel: 'game:2' })).toMatchObject({ type: 'ack' });
    const refused = await b.request({ type: 'subscribe', channel: 'game:1' });
    expect(refused).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    expect(refused.message).toContain('session_limit');
    expect(await b.request({ type: 'subscribe', channel: 'lobby' })).toMatchObject({ type: 'ack' });
    await a.request({ type: 'unsubscribe', channel: 'game:1' });
    expect(await b.request({ type: 'subscribe', channel: 'game:1' })).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    await a.request({ type: 'unsubscribe', channel: 'game:2' });
    expect(await b.request({ type: 'subscribe', channel: 'game:1' })).toMatchObject({ type: 'ack' });
  });

  it('kick_oldest: using the namespace from a new login closes the older login everywhere', async () => {
    const gw = await gateway(ns('kick_oldest'));
    const a = await login(gw.wsUrl, 'alice', 'A');
    const aOther = await login(gw.wsUrl, 'alice', 'A');
    const b = await login(gw.wsUrl, 'alice', 'B');
    await a.request({ type: 'subscribe', channel: 'game:1' });
    await alive(b);
    expect(await b.request({ type: 'subscribe', channel: 'game:1' })).toMatchObject({ type: 'ack' });
    expect(await a.waitClose()).toBe(3504);
    expect(await aOther.waitClose()).toBe(3504);
    await alive(b);
  });

  it('namespace policies inherit missing fields from the deployment policy', async () => {
    const gw = await gateway({
      sessions: { maxPerUser: 3, onLimit: 'reject_new' },
      namespaces: { game: { sessions: { maxPerUser: 1 } }, tv: { sessions: {} }, free: { sessions: { maxPerUser: null } }, chat: {} },
    });
    expect(gw.node.sso.limitOf(undefined)).toEqual({ maxPerUser: 3, onLimit: 'reject_new' });
    expect(gw.node.sso.limitOf('game')).toEqual({ maxPerUser: 1, onLimit: 'reject_new' });
    expect(gw.node.sso.limitOf('tv')).toEqual({ maxPerUser: 3, onLimit: 'reject_new' });
    expect(gw.node.sso.limitOf('free')).toBeUndefined();
    expect(gw.node.sso.limitOf('chat')).toBeUndefined();
  });
});

describe('sessions', () => {
  it('a closing connection counts as use of its session (idle time starts at the end)', async () => {
    const gw = await gateway({});
    const c = await login(gw.wsUrl, 'alice');
    const id = c.frames[0].session as string;
    const before = (await gw.node.sessions.get(id))!.lastSeenAt;
    await waitFor(() => Date.now() > before + 2, 1000, 'clock moved');
    c.close();
    await waitFor(async () => (await gw.node.sessions.get(id))!.lastSeenAt > before, 5000, 'session touched on close');
    const again = await login(gw.wsUrl, 'alice', undefined, id);
    expect(again.frames[0]).toMatchObject({ type: 'auth_success', session: id, resumed: true });
  });
});
