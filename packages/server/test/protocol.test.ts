import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SignJWT, generateKeyPair, exportSPKI } from 'jose';
import { SECRET, RawClient, connectAuthed, startGateway, token } from './helpers.ts';
import { waitFor } from '../../../test/support/ports.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;

const namespaces = {
  '': {},
  chat: { history: { size: 100, ttl: '1h' }, presence: true },
  live: {},
  ro: { clientPublish: false },
} as const;

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway({ namespaces, heartbeat: { intervalMs: 60_000, timeoutMs: 5000 }, auth: { timeoutMs: 400 } });
});
afterAll(() => gw.close());

const grants = { channels: ['chat:*', 'live:*', 'ro:*'], publish: ['chat:*', 'live:*', 'ro:*'] };

describe('authentication paths', () => {
  test('URL token', async () => {
    const c = await connectAuthed(gw.wsUrl, 'alice', grants);
    const ok = c.frames[0];
    expect(ok).toMatchObject({ type: 'auth_success', user: 'alice', resumed: false, permissions: { subscribe: grants.channels, publish: grants.publish } });
    expect(ok.client).toMatch(/^c_/);
    expect(ok.session).toMatch(/^s_/);
    expect(typeof ok.expiresAt).toBe('number');
    expect(ok.ping).toBe(60);
    c.close();
  });

  test('Authorization: Bearer header', async () => {
    const c = new RawClient(gw.wsUrl, { headers: { authorization: `Bearer ${await token('bob')}` } });
    expect(await c.next((f) => f.type === 'auth_success')).toMatchObject({ user: 'bob' });
    c.close();
  });

  test('first auth frame, and commands pipelined behind it wait for it', async () => {
    const c = new RawClient(gw.wsUrl);
    c.send({ type: 'auth', token: await token('carol', grants) });
    c.send({ type: 'subscribe', id: 1, channel: 'live:a' });
    expect(await c.next((f) => f.type === 'auth_success')).toMatchObject({ user: 'carol' });
    expect(await c.next((f) => f.id === 1)).toMatchObject({ type: 'ack' });
    c.close();
  });

  test('commands before auth get unauthorized, connection stays', async () => {
    const c = new RawClient(gw.wsUrl);
    const r = await c.request({ type: 'subscribe', channel: 'live:a' });
    expect(r).toMatchObject({ type: 'error', code: 'unauthorized', temporary: false });
    c.send({ type: 'auth', token: await token('dave') });
    await c.next((f) => f.type === 'auth_success');
    c.close();
  });

  test('session is resumed when presented again by the same user', async () => {
    const a = await connectAuthed(gw.wsUrl, 'erin');
    const session = a.frames[0].session;
    a.close();
    const b = new RawClient(gw.wsUrl);
    b.send({ type: 'auth', token: await token('erin'), session });
    expect(await b.next((f) => f.type === 'auth_success')).toMatchObject({ session, resumed: true });
    b.close();
  });

  test('a session id of another user is refused', async () => {
    const a = await connectAuthed(gw.wsUrl, 'frank');
    const session = a.frames[0].session;
    const b = new RawClient(gw.wsUrl);
    b.send({ type: 'auth', token: await token('mallory'), session });
    expect(await b.next((f) => f.type === 'auth_failed')).toMatchObject({ code: 3500, reason: 'session_rejected' });
    expect(await b.waitClose()).toBe(3500);
    a.close();
  });

  const refused: Array<[string, () => Promise<string>, string]> = [
    ['expired', () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode(SECRET)), 'token_expired'],
    ['not yet valid', () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setNotBefore(Math.floor(Date.now() / 1000) + 600).sign(new TextEncoder().encode(SECRET)), 'invalid_token'],
    ['wrong signature', () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('x').sign(new TextEncoder().encode('another-secret-entirely')), 'invalid_token'],
    ['alg none', async () => `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'x' })).toString('base64url')}.`, 'invalid_token'],
    ['algorithm not allowed (HS512 when only HS256 is)', () => new SignJWT({}).setProtectedHeader({ alg: 'HS512' }).setSubject('x').sign(new TextEncoder().encode(SECRET)), 'invalid_token'],
    ['garbage', async () => 'not.a.jwt', 'invalid_token'],
    ['no sub', () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET)), 'invalid_token'],
  ];
  for (const [name, make, reason] of refused) {
    test(`refused: ${name}`, async () => {
      const c = new RawClient(`${gw.wsUrl}?token=${await make()}`);
      expect(await c.next((f) => f.type === 'auth_failed')).toEqual({ type: 'auth_failed', code: 3500, reason });
      expect(await c.waitClose()).toBe(3500);
    });
  }

  test('missing credentials: auth frame without token is refused', async () => {
    const c = new RawClient(gw.wsUrl);
    c.send({ type: 'auth' });
    expect(await c.next((f) => f.type === 'auth_failed')).toMatchObject({ code: 3500, reason: 'unauthorized' });
    expect(await c.waitClose()).toBe(3500);
  });

  test('no auth frame within auth.timeoutMs closes the connection', async () => {
    const c = new RawClient(gw.wsUrl);
    await c.opened;
    expect(await c.waitClose()).toBe(3501);
    expect(c.frames.at(-1)).toMatchObject({ type: 'auth_failed', reason: 'auth_timeout' });
  });

  test('second auth on an authenticated connection is an error, connection stays', async () => {
    const c = await connectAuthed(gw.wsUrl, 'gina');
    expect(await c.request({ type: 'auth', token: await token('gina') })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await c.request({ type: 'unsubscribe', channel: 'live:none' })).toMatchObject({ code: 'bad_request' });
    c.close();
  });
});

describe('asymmetric keys', () => {
  test('RS256, ES256 and EdDSA verify against a configured public key; HS256 signed with that key is refused', async () => {
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const pem = await exportSPKI(publicKey);
      const g = await startGateway({ auth: { jwtSecret: SECRET, publicKey: pem, algorithms: ['HS256', alg] } });
      const good = await new SignJWT({}).setProtectedHeader({ alg }).setSubject('kim').setExpirationTime('1h').sign(privateKey);
      const c = new RawClient(`${g.wsUrl}?token=${good}`);
      expect(await c.next((f) => f.type === 'auth_success')).toMatchObject({ user: 'kim' });
      c.close();
      // Algorithm confusion: HS256 with the public key's PEM as the HMAC secret.
      const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('kim').sign(new TextEncoder().encode(pem));
      const d = new RawClient(`${g.wsUrl}?token=${forged}`);
      expect(await d.next((f) => f.type === 'auth_failed')).toMatchObject({ reason: 'invalid_token' });
      await g.close();
    }
  });

  test('audience and issuer are enforced when configured', async () => {
    const g = await startGateway({ auth: { jwtSecret: SECRET, audience: 'sb', issuer: 'https://id.example' } });
    const ok = await token('lee', { audience: 'sb', issuer: 'https://id.example' });
    const c = new RawClient(`${g.wsUrl}?token=${ok}`);
    await c.next((f) => f.type === 'auth_success');
    c.close();
    for (const bad of [{ audience: 'other', issuer: 'https://id.example' }, { audience: 'sb', issuer: 'https://evil.example' }, {}]) {
      const d = new RawClient(`${g.wsUrl}?token=${await token('lee', bad)}`);
      expect(await d.next((f) => f.type === 'auth_failed')).toMatchObject({ reason: 'invalid_token' });
    }
    await g.close();
  });
});

describe('commands', () => {
  test('subscribe, publish, message, unsubscribe', async () => {
    const a = await connectAuthed(gw.wsUrl, 'alice', grants);
    const b = await connectAuthed(gw.wsUrl, 'bob', grants);
    expect(await a.request({ type: 'subscribe', channel: 'live:room' })).toMatchObject({ type: 'ack' });
    const ack = await b.request({ type: 'publish', id: 'p-1', channel: 'live:room', data: { text: 'hi' } });
    expect(ack).toEqual({ type: 'ack', id: 'p-1', duplicate: false });
    const m = await a.next((f) => f.type === 'message' && f.channel === 'live:room');
    expect(m).toMatchObject({ channel: 'live:room', data: { text: 'hi' }, from: 'bob', id: 'p-1' });
    expect(typeof m.ts).toBe('number');
    expect(await a.request({ type: 'unsubscribe', channel: 'live:room' })).toMatchObject({ type: 'ack' });
    await b.request({ type: 'publish', channel: 'live:room', data: 2 });
    await b.roundtrip();
    await a.roundtrip();
    expect(a.frames.filter((f) => f.type === 'message')).toHaveLength(1);
    a.close();
    b.close();
  });

  test('history channel: publish acks carry epoch and offset; subscribe with since replays', async () => {
    const a = await connectAuthed(gw.wsUrl, 'alice', grants);
    const first = await a.request({ type: 'publish', channel: 'chat:h', data: 1 });
    expect(first).toMatchObject({ type: 'ack', offset: 1, duplicate: false });
    await a.request({ type: 'publish', channel: 'chat:h', data: 2 });
    const sub = await a.request({ type: 'subscribe', channel: 'chat:h', since: { epoch: first.epoch, offset: 1 } });
    expect(sub).toMatchObject({ type: 'ack', epoch: first.epoch, offset: 2, recovered: true });
    expect(sub.publications.map((p: any) => p.data)).toEqual([2]);
    const dup = await a.request({ type: 'publish', id: 'same', channel: 'chat:h', data: 3 });
    const again = await a.request({ type: 'publish', id: 'same', channel: 'chat:h', data: 3 });
    expect(again).toMatchObject({ offset: dup.offset, duplicate: true });
    const hist = await a.request({ type: 'history', channel: 'chat:h', limit: 10 });
    expect(hist.publications.map((p: any) => p.data)).toEqual([1, 2, 3]);
    const newest = await a.request({ type: 'history', channel: 'chat:h', limit: 2, reverse: true });
    expect(newest.publications.map((p: any) => p.offset)).toEqual([3, 2]);
    const wrongEpoch = await a.request({ type: 'subscribe', channel: 'chat:other', since: { epoch: 'nope', offset: 5 } });
    expect(wrongEpoch).toMatchObject({ recovered: false, offset: 0, publications: [] });
    a.close();
  });

  test('presence lists subscribed users with connection counts', async () => {
    const a = await connectAuthed(gw.wsUrl, 'pam', { ...grants, info: { name: 'Pam' } });
    const a2 = await connectAuthed(gw.wsUrl, 'pam', grants);
    await a.request({ type: 'subscribe', channel: 'chat:p' });
    await a2.request({ type: 'subscribe', channel: 'chat:p' });
    const r = await a.request({ type: 'presence', channel: 'chat:p' });
    expect(r.presence.pam).toMatchObject({ user: 'pam', connections: 2, info: { name: 'Pam' } });
    expect(await a.request({ type: 'presence', channel: 'live:x' })).toMatchObject({ type: 'error', code: 'not_available' });
    a.close();
    a2.close();
  });

  test('private message to a user with send', async () => {
    const a = await connectAuthed(gw.wsUrl, 'quinn');
    const b = await connectAuthed(gw.wsUrl, 'ruth');
    await b.request({ type: 'subscribe', channel: '#ruth' });
    const ack = await a.request({ type: 'send', to: 'ruth', data: { text: 'psst' } });
    expect(ack).toMatchObject({ type: 'ack', offset: 1, duplicate: false });
    expect(await b.next((f) => f.type === 'message')).toMatchObject({ channel: '#ruth', from: 'quinn', data: { text: 'psst' } });
    a.close();
    b.close();
  });

  test('refresh re-authenticates the live connection; another user is refused', async () => {
    const a = await connectAuthed(gw.wsUrl, 'sam', { ttlSec: 60 });
    const r = await a.request({ type: 'refresh', token: await token('sam', { ttlSec: 7200, channels: ['live:*'] }) });
    expect(r.type).toBe('ack');
    expect(r.expiresAt).toBeGreaterThan(a.frames[0].expiresAt);
    expect(await a.request({ type: 'subscribe', channel: 'live:now' })).toMatchObject({ type: 'ack' });
    expect(await a.request({ type: 'refresh', token: await token('other') })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect(await a.request({ type: 'refresh', token: 'bad' })).toMatchObject({ type: 'error', code: 'unauthorized' });
    a.close();
  });

  test('client ping gets pong with its id', async () => {
    const a = await connectAuthed(gw.wsUrl, 'tom');
    a.send({ type: 'ping', id: 'hb1' });
    expect(await a.next((f) => f.type === 'pong')).toEqual({ type: 'pong', id: 'hb1' });
    a.close();
  });
});

describe('permissions and channel rules', () => {
  test('permission_denied keeps the connection', async () => {
    const a = await connectAuthed(gw.wsUrl, 'uma', { channels: ['chat:open'], publish: [] });
    expect(await a.request({ type: 'subscribe', channel: 'chat:secret' })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect(await a.request({ type: 'publish', channel: 'chat:open', data: 1 })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect(await a.request({ type: 'subscribe', channel: '#someoneelse' })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect(await a.request({ type: 'subscribe', channel: '#uma' })).toMatchObject({ type: 'ack' });
    expect(await a.request({ type: 'subscribe', channel: 'chat:open' })).toMatchObject({ type: 'ack' });
    a.close();
  });

  test('clientPublish: false refuses publishing even with a grant', async () => {
    const a = await connectAuthed(gw.wsUrl, 'vic', grants);
    expect(await a.request({ type: 'publish', channel: 'ro:x', data: 1 })).toMatchObject({ code: 'permission_denied' });
    a.close();
  });

  test('bad and unknown channel names', async () => {
    const a = await connectAuthed(gw.wsUrl, 'wes', { channels: ['*'] });
    for (const bad of ['', 'chat:*', 'a b', '../etc', 'chat:', 'x'.repeat(300), '#', 'chat:\u0000']) {
      expect(await a.request({ type: 'subscribe', channel: bad })).toMatchObject({ type: 'error', code: 'bad_request' });
    }
    expect(await a.request({ type: 'subscribe', channel: 'nope:x' })).toMatchObject({ type: 'error', code: 'unknown_channel' });
    a.close();
  });

  test('channels per connection limit', async () => {
    const g = await startGateway({ namespaces: { '': {} }, limits: { maxChannelsPerConnection: 2 } });
    const a = await connectAuthed(g.wsUrl, 'xena', { channels: ['*'] });
    await a.request({ type: 'subscribe', channel: 'a' });
    await a.request({ type: 'subscribe', channel: 'b' });
    expect(await a.request({ type: 'subscribe', channel: 'c' })).toMatchObject({ type: 'error', code: 'limit_exceeded' });
    await g.close();
  });
});

describe('bad frames', () => {
  test('unknown type and malformed commands get errors; connection stays', async () => {
    const a = await connectAuthed(gw.wsUrl, 'yan', grants);
    expect(await a.request({ type: 'launch' })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await a.request({ type: 'subscribe', channel: 5 })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await a.request({ type: 'publish', channel: 'live:a' })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await a.request({ type: 'subscribe', channel: 'live:a', since: { epoch: 1, offset: -1 } })).toMatchObject({ code: 'bad_request' });
    a.send({ nottype: 1 });
    expect(await a.next((f) => f.type === 'error' && /type/.test(f.message))).toBeTruthy();
    expect(await a.request({ type: 'subscribe', channel: 'live:ok' })).toMatchObject({ type: 'ack' });
    a.close();
  });

  for (const [name, payload] of [['non-JSON', 'hello'], ['a JSON array', '[1,2]'], ['a JSON string', '"x"']] as const) {
    test(`${name} closes 3501`, async () => {
      const a = await connectAuthed(gw.wsUrl, 'zed');
      a.send(payload);
      expect(await a.waitClose()).toBe(3501);
      expect(a.frames.at(-1)).toMatchObject({ type: 'disconnect', code: 3501 });
    });
  }

  test('oversized frame closes 3501', async () => {
    const g = await startGateway({ limits: { maxFrameBytes: 1024 } });
    const a = await connectAuthed(g.wsUrl, 'big');
    a.send({ type: 'publish', channel: 'x', data: 'y'.repeat(5000) });
    expect(await a.waitClose()).toBe(3501);
    await g.close();
  });

  test('binary frame closes 3501', async () => {
    const a = await connectAuthed(gw.wsUrl, 'bin');
    a.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    expect(await a.waitClose()).toBe(3501);
  });
});

describe('heartbeat', () => {
  test('server pings; a client that never answers is closed 3012', async () => {
    const g = await startGateway({ heartbeat: { intervalMs: 150, timeoutMs: 150 } });
    const t = await token('hb');
    // A raw client that records pings but never answers.
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${g.wsUrl}?token=${t}`);
    const seen: any[] = [];
    ws.on('message', (d) => seen.push(JSON.parse(d.toString())));
    const code = await new Promise<number>((r) => ws.on('close', (c) => r(c)));
    expect(seen.some((f) => f.type === 'ping')).toBe(true);
    expect(code).toBe(3012);
    await g.close();
  });

  test('a client that answers pings stays connected across several intervals', async () => {
    const g = await startGateway({ heartbeat: { intervalMs: 100, timeoutMs: 100 } });
    const a = await connectAuthed(g.wsUrl, 'alive'); // RawClient answers pings
    // Several intervals have passed once the fourth ping arrived: three were answered in time.
    await waitFor(() => a.closeCode !== undefined || a.frames.filter((f) => f.type === 'ping').length >= 4, 10_000, 'four pings');
    expect(a.frames.filter((f) => f.type === 'ping').length).toBeGreaterThanOrEqual(3);
    expect(a.closeCode).toBeUndefined();
    a.close();
    await g.close();
  });

  test('token expiry: token_expiring, then 3005', async () => {
    const g = await startGateway({ auth: { jwtSecret: SECRET, expiringNoticeMs: 1500, clockToleranceSec: 0 } });
    // exp has whole-second precision: 4 s leaves at least 3 s, so the notice (1.5 s before) has room.
    const a = await connectAuthed(g.wsUrl, 'exp', { ttlSec: 4 });
    expect(await a.next((f) => f.type === 'token_expiring', 8000)).toMatchObject({ expiresAt: a.frames[0].expiresAt });
    expect(await a.waitClose(8000)).toBe(3005);
    await g.close();
  });
});

describe('batching', () => {
  test('?batch=1 clients may receive JSON arrays; frames arrive in order', async () => {
    const t = await token('bat', grants);
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${gw.wsUrl}?batch=1&token=${t}`);
    const raw: string[] = [];
    ws.on('message', (d) => raw.push(d.toString()));
    const received = () => raw.flatMap((s) => { const v = JSON.parse(s); return Array.isArray(v) ? v : [v]; });
    await new Promise((r) => ws.on('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', id: 's', channel: 'live:batch' }));
    await waitFor(() => received().some((f) => f.type === 'ack' && f.id === 's'), 10_000, 'the subscribe ack');
    for (let i = 0; i < 20; i++) ws.send(JSON.stringify({ type: 'publish', id: `b${i}`, channel: 'live:batch', data: i }));
    await waitFor(() => received().filter((f) => f.type === 'message').length >= 20 && received().some((f) => f.type === 'ack' && f.id === 'b19'), 10_000, '20 messages');
    const frames = received();
    expect(frames.filter((f) => f.type === 'message').map((f) => f.data)).toEqual([...Array(20).keys()]);
    expect(raw.some((s) => s.startsWith('['))).toBe(true);
    ws.close();
  });
});
