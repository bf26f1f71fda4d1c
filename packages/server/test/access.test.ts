import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SwitchboardApi, SwitchboardApiError } from '@switchboard/api-client';
import { RawClient, SECRET, connectAuthed, startGateway, token } from './helpers.ts';
import { closeClients, makeClient, record, until } from '../../client/test/helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';

/**
 * The operator's tools for an account gone bad (server API `block`, `unblock`, `revoke`,
 * `access`), on one in-process gateway with the real SDK and raw sockets. Across nodes and
 * restarts: test/access-cluster.test.ts.
 */
const KEY = 'access-api-key-0123456789';
type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
let api: SwitchboardApi;
const raws: RawClient[] = [];

const now = () => Math.floor(Date.now() / 1000);
/** A token with an explicit `iat` (null: none at all). */
async function tokenIssuedAt(sub: string, iat: number | null): Promise<string> {
  let jwt = new SignJWT({ channels: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime(now() + 3600);
  if (iat !== null) jwt = jwt.setIssuedAt(iat);
  return jwt.sign(new TextEncoder().encode(SECRET));
}
async function raw(sub: string, t?: string): Promise<RawClient> {
  const c = new RawClient(`${gw.wsUrl}?token=${t ?? (await token(sub, { channels: ['*'] }))}`);
  raws.push(c);
  await c.next((f) => f.type === 'auth_success' || f.type === 'auth_failed');
  return c;
}
const failure = async (p: Promise<unknown>): Promise<SwitchboardApiError> => {
  const err = await p.then(() => { throw new Error('expected the call to fail'); }, (e) => e);
  expect(err).toBeInstanceOf(SwitchboardApiError);
  return err as SwitchboardApiError;
};

beforeAll(async () => {
  gw = await startGateway({ apiKeys: [KEY], namespaces: { '': {}, chat: { allowSubscribe: true } } });
  api = new SwitchboardApi({ url: gw.url, apiKey: KEY });
});
afterEach(() => {
  closeClients();
  for (const c of raws.splice(0)) c.close();
});
afterAll(async () => {
  await gw.close();
});

describe('block', () => {
  it('closes every connection of the user with 3502 blocked; the SDK stops; others stay', async () => {
    const sdk = makeClient(gw.wsUrl, { token: () => token('mallory', { channels: ['*'] }) });
    const events = record(sdk);
    await until(sdk, 'connected');
    const second = await raw('mallory');
    const bystander = await raw('bob');
    await api.block('mallory', { reason: 'spam' });
    expect(await second.waitClose()).toBe(3502);
    expect(second.frames.at(-1)).toMatchObject({ type: 'disconnect', code: 3502, reason: 'blocked' });
    await until(sdk, 'closed');
    expect(events.log.filter((e) => e.startsWith('closed'))).toEqual(['closed:3502:blocked']);
    // Terminal: the SDK scheduled no reconnect.
    expect(events.log.at(-1)).toBe('closed:3502:blocked');
    await bystander.roundtrip();
    expect(await api.access('mallory')).toEqual({ user: 'mallory', blocked: true, reason: 'spam' });
  });

  it('refuses new connections with auth_failed blocked until unblock', async () => {
    await api.block('trudy');
    const refused = await raw('trudy');
    expect(refused.frames.at(-1)).toEqual({ type: 'auth_failed', code: 3502, reason: 'blocked' });
    expect(await refused.waitClose()).toBe(3502);
    await api.unblock('trudy');
    expect(await api.access('trudy')).toEqual({ user: 'trudy', blocked: false });
    const back = await raw('trudy');
    expect(back.frames.at(-1).type).toBe('auth_success');
  });

  it('blocks anonymous users and user ids that name object members', async () => {
    const anon = await startGateway({ apiKeys: [KEY], auth: { allowAnonymous: true } });
    try {
      const a = new SwitchboardApi({ url: anon.url, apiKey: KEY });
      for (const user of ['__proto__', 'constructor']) {
        const c = new RawClient(anon.wsUrl);
        raws.push(c);
        c.send({ type: 'auth', name: user });
        await c.next((f) => f.type === 'auth_success');
        await a.block(user);
        expect(await c.waitClose()).toBe(3502);
        const again = new RawClient(anon.wsUrl);
        raws.push(again);
        again.send({ type: 'auth', name: user });
        expect(await again.next((f) => f.type === 'auth_failed')).toMatchObject({ reason: 'blocked' });
      }
      expect(await a.access('toString')).toEqual({ user: 'toString', blocked: false });
    } finally {
      await anon.close();
    }
  });

  it('a block with a ttl ends by itself', async () => {
    await api.block('eve', { ttl: 1 });
    const state = await api.access('eve');
    expect(state.blocked).toBe(true);
    expect(state.until).toBeGreaterThanOrEqual(now());
    expect((await raw('eve')).frames.at(-1)).toMatchObject({ type: 'auth_failed', reason: 'blocked' });
    const back = await waitFor(async () => {
      const c = await raw('eve');
      return c.frames.at(-1).type === 'auth_success' ? c : undefined;
    }, 10_000, 'the block to end');
    await back.roundtrip();
  });

  it('answers 400 naming the field for a bad request', async () => {
    expect((await failure(api.block('bad user'))).field).toBe('user');
    expect((await failure(api.call('block', { user: 'x', ttl: 0 }))).field).toBe('ttl');
    expect((await failure(api.call('block', { user: 'x', reason: 'r'.repeat(201) }))).field).toBe('reason');
    expect((await failure(api.call('block', { user: 'x', extra: 1 }))).status).toBe(400);
  });
});

describe('revoke', () => {
  it('closes connections authenticated with an older token (3502 token_revoked); a fresh token works', async () => {
    const old = await raw('alice', await tokenIssuedAt('alice', now() - 100));
    const fresh = await raw('alice', await tokenIssuedAt('alice', now() - 10));
    const before = now() - 50;
    await api.revoke('alice', { before });
    expect(await old.waitClose()).toBe(3502);
    expect(old.frames.at(-1)).toMatchObject({ type: 'disconnect', code: 3502, reason: 'token_revoked' });
    await fresh.roundtrip();
    const again = await raw('alice', await tokenIssuedAt('alice', now() - 100));
    expect(again.frames.at(-1)).toEqual({ type: 'auth_failed', code: 3502, reason: 'token_revoked' });
    expect((await raw('alice', await tokenIssuedAt('alice', null))).frames.at(-1)).toMatchObject({ reason: 'token_revoked' });
    expect((await raw('alice')).frames.at(-1).type).toBe('auth_success');
    expect(await api.access('alice')).toEqual({ user: 'alice', blocked: false, revokedBefore: before });
  });

  it('refuses a revoked token in refresh, and accepts a fresh one', async () => {
    const c = await raw('carol', await tokenIssuedAt('carol', now() - 10));
    await api.revoke('carol', { before: now() - 5 });
    // This connection's own token is revoked too: it closed. A fresh connection refreshes.
    expect(await c.waitClose()).toBe(3502);
    const live = await raw('carol');
    const refused = await live.request({ type: 'refresh', token: await tokenIssuedAt('carol', now() - 60) });
    expect(refused).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect((await live.request({ type: 'refresh', token: await token('carol') })).type).toBe('ack');
  });

  it('the SDK gets a fresh token from its provider and reconnects by itself', async () => {
    let issued = 0;
    const sdk = makeClient(gw.wsUrl, {
      token: async () => (issued++ === 0 ? tokenIssuedAt('dave', now() - 100) : token('dave', { channels: ['*'] })),
    });
    const events = record(sdk);
    await until(sdk, 'connected');
    await api.revoke('dave', { before: now() - 50 });
    await waitFor(() => events.count('connected') === 2, 10_000, 'a reconnect with a fresh token');
    expect(issued).toBe(2);
    expect(events.log).toContain('disconnected:3502:token_revoked');
    expect(sdk.state).toBe('connected');
  });

  it('refuses a time in the future (that would be a block)', async () => {
    const err = await failure(api.revoke('alice', { before: now() + 3600 }));
    expect(err.status).toBe(400);
    expect(err.field).toBe('before');
  });
});

describe('connect races', () => {
  it('a block issued while connections authenticate leaves none of them open', async () => {
    const racing = await Promise.all(Array.from({ length: 20 }, async () => {
      const c = new RawClient(`${gw.wsUrl}?token=${await token('racer', { channels: ['*'] })}`);
      raws.push(c);
      return c;
    }));
    await api.block('racer');
    for (const c of racing) expect([3502]).toContain(await c.waitClose(10_000));
  });
});

it('connectAuthed still works for users nobody blocked', async () => {
  const c = await connectAuthed(gw.wsUrl, 'zed');
  raws.push(c);
  expect(c.frames[0].type).toBe('auth_success');
});
