import { connect as tcpConnect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import WebSocket from 'ws';
import { RawClient, SECRET, connectAuthed, startGateway, token } from './helpers.ts';
import type { SwitchboardServer } from '../src/index.ts';

type Gateway = SwitchboardServer & { wsUrl: string; url: string };

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const API_KEY = 'security-suite-api-key-0123456789';
const hs = (secret: string | Uint8Array) => (typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);

/** Connects with `?token=` and returns the auth outcome and close code. */
async function authWith(wsUrl: string, jwt: string): Promise<{ frame: any; code: number }> {
  const c = new RawClient(`${wsUrl}?token=${encodeURIComponent(jwt)}`);
  const frame = await c.next((f) => f.type === 'auth_success' || f.type === 'auth_failed');
  if (frame.type === 'auth_success') {
    c.close();
    return { frame, code: 0 };
  }
  return { frame, code: await c.waitClose() };
}

/** The HTTP status of a WebSocket handshake (101 when it opened). */
function handshakeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => { ws.terminate(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate(); });
    ws.once('error', (err) => { if (!/Unexpected server response/.test(err.message)) reject(err); });
  });
}

describe('tokens', () => {
  let gw: Gateway;
  beforeAll(async () => { gw = await startGateway({ auth: { jwtSecret: SECRET, audience: 'switchboard', issuer: 'https://auth.example.com' } }); });
  afterAll(async () => { await gw.close(); });
  const good = () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setAudience('switchboard').setIssuer('https://auth.example.com');

  it('accepts a well-formed token (the control case)', async () => {
    const { frame } = await authWith(gw.wsUrl, await good().setExpirationTime(now() + 60).sign(hs(SECRET)));
    expect(frame.type).toBe('auth_success');
  });

  it('refuses alg "none"', async () => {
    const jwt = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', aud: 'switchboard', iss: 'https://auth.example.com', exp: now() + 60 })}.`;
    const { frame, code } = await authWith(gw.wsUrl, jwt);
    expect(frame).toMatchObject({ type: 'auth_failed', reason: 'invalid_token' });
    expect(code).toBe(3500);
  });

  it('refuses an expired token', async () => {
    const { frame, code } = await authWith(gw.wsUrl, await good().setExpirationTime(now() - 120).sign(hs(SECRET)));
    expect(frame).toMatchObject({ type: 'auth_failed', reason: 'token_expired' });
    expect(code).toBe(3500);
  });

  it('refuses a token that is not yet valid (nbf in the future)', async () => {
    const { frame, code } = await authWith(gw.wsUrl, await good().setNotBefore(now() + 600).sign(hs(SECRET)));
    expect(frame).toMatchObject({ type: 'auth_failed', reason: 'invalid_token' });
    expect(code).toBe(3500);
  });

  it('refuses a token for another audience', async () => {
    const jwt = await good().setAudience('another-service').sign(hs(SECRET));
    expect((await authWith(gw.wsUrl, jwt)).frame).toMatchObject({ type: 'auth_failed', reason: 'invalid_token' });
  });

  it('refuses a token from another issuer', async () => {
    const jwt = await good().setIssuer('https://evil.example.com').sign(hs(SECRET));
    expect((await authWith(gw.wsUrl, jwt)).frame).toMatchObject({ type: 'auth_failed', reason: 'invalid_token' });
  });

  it('refuses a token signed with another secret', async () => {
    expect((await authWith(gw.wsUrl, await good().sign(hs('not-the-secret-0123456789')))).frame.reason).toBe('invalid_token');
  });
});

describe('algorithm confusion', () => {
  it('refuses an HS256 token signed with the RS public key PEM as its secret', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const pem = await exportSPKI(publicKey);
    // The worst configuration: both families allowed, only a public key configured.
    const gw = await startGateway({ auth: { jwtSecret: null as never, publicKey: pem, algorithms: ['RS256', 'HS256'] } });
    try {
      const real = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('alice').sign(privateKey);
      expect((await authWith(gw.wsUrl, real)).frame.type).toBe('auth_success');
      const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').sign(hs(pem));
      const { frame, code } = await authWith(gw.wsUrl, forged);
      expect(frame).toMatchObject({ type: 'auth_failed', reason: 'invalid_token' });
      expect(code).toBe(3500);
    } finally {
      await gw.close();
    }
  });
});

describe('authorization', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ namespaces: { chat: {}, admin: {}, '#': { history: { size: 10, ttl: '1h' } } } });
  });
  afterAll(async () => { await gw.close(); });

  it('refuses a session id that belongs to another user', async () => {
    const alice = await connectAuthed(gw.wsUrl, 'alice');
    const aliceSession = (await alice.next((f) => f.type === 'auth_success')).session;
    const mallory = new RawClient(gw.wsUrl);
    mallory.send({ type: 'auth', token: await token('mallory'), session: aliceSession });
    expect(await mallory.next((f) => f.type === 'auth_failed')).toMatchObject({ reason: 'session_rejected', code: 3500 });
    expect(await mallory.waitClose()).toBe(3500);
    alice.close();
  });

  it("refuses subscribing to another user's personal channel, even with a '*' grant", async () => {
    const mallory = await connectAuthed(gw.wsUrl, 'mallory', { channels: ['*'] });
    expect(await mallory.request({ type: 'subscribe', channel: '#alice' })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect((await mallory.request({ type: 'subscribe', channel: '#mallory' })).type).toBe('ack');
    mallory.close();
  });

  it('refuses publishing without a publish grant, and to personal channels', async () => {
    const c = await connectAuthed(gw.wsUrl, 'mallory', { channels: ['chat:*'], publish: ['chat:public'] });
    expect(await c.request({ type: 'publish', channel: 'chat:lobby', data: 1 })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect(await c.request({ type: 'publish', channel: 'admin:x', data: 1 })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect(await c.request({ type: 'publish', channel: '#alice', data: 1 })).toMatchObject({ type: 'error', code: 'permission_denied' });
    expect((await c.request({ type: 'publish', channel: 'chat:public', data: 1 })).type).toBe('ack');
    c.close();
  });

  it('treats wildcards and path tricks in channel names as malformed, never as patterns', async () => {
    const c = await connectAuthed(gw.wsUrl, 'mallory', { channels: ['chat:*'], publish: ['chat:*'] });
    const tricks = ['*', 'chat:*', 'admin:*', 'chat:../admin:x', '../admin:x', 'chat:a/b', 'chat:a b', ' chat:a', 'chat:a\u0000', 'chat:\n',
      'chat:a\u202e', '#', '##alice', '#alice/../x', '#*', 'chat:lobby?', 'chat:', ':x', 'chat:%2e%2e', 'chat:é'];
    for (const channel of tricks) {
      for (const type of ['subscribe', 'publish']) {
        const r = await c.request({ type, channel, data: 1 });
        expect(r.type, `${type} ${JSON.stringify(channel)}`).toBe('error');
        expect(['bad_request', 'permission_denied', 'unknown_channel']).toContain(r.code);
      }
    }
    expect((await c.request({ type: 'subscribe', channel: 'admin:x' })).code).toBe('permission_denied');
    c.close();
  });
});

describe('server API keys', () => {
  let gw: Gateway;
  beforeAll(async () => { gw = await startGateway({ apiKeys: [API_KEY], namespaces: { chat: {} } }); });
  afterAll(async () => { await gw.close(); });
  const call = (headers: Record<string, string>) => fetch(`${gw.url}/api/publish`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ channel: 'chat:a', data: 1 }),
  });

  it('refuses a call without a key (401)', async () => {
    expect((await call({})).status).toBe(401);
  });

  it('refuses a wrong key, a prefix of the key, and the key in the query string (401)', async () => {
    expect((await call({ 'x-api-key': 'wrong-key-0123456789abcdef' })).status).toBe(401);
    expect((await call({ authorization: `apikey ${API_KEY.slice(0, -1)}` })).status).toBe(401);
    expect((await call({ authorization: `Bearer ${await token('alice')}` })).status).toBe(401);
    const r = await fetch(`${gw.url}/api/publish?apiKey=${API_KEY}&api_key=${API_KEY}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"channel":"chat:a","data":1}' });
    expect(r.status).toBe(401);
    expect((await call({ 'x-api-key': API_KEY })).status).toBe(200); // the control case
  });

  it('refuses publication data nested deeper than 64 levels (it could never be delivered)', async () => {
    const deep = (d: number) => fetch(`${gw.url}/api/publish`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: `{"channel":"chat:a","data":${'['.repeat(d)}${']'.repeat(d)}}`,
    });
    expect((await deep(64)).status).toBe(200);
    expect((await deep(5000)).status).toBe(400);
  });

  it('keeps the API closed (503) when no key is configured', async () => {
    const open = await startGateway({ namespaces: { chat: {} } });
    try {
      const r = await fetch(`${open.url}/api/publish`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'anything-0123456789' }, body: '{"channel":"chat:a","data":1}' });
      expect(r.status).toBe(503);
    } finally {
      await open.close();
    }
  });
});

describe('cross-site WebSocket hijacking', () => {
  let gw: Gateway;
  beforeAll(async () => { gw = await startGateway({ allowedOrigins: ['https://app.example.com', 'https://*.example.org'] }); });
  afterAll(async () => { await gw.close(); });

  it('refuses an origin not in the allow-list at the handshake (403)', async () => {
    const url = `${gw.wsUrl}?token=${await token('alice')}`;
    for (const origin of ['https://evil.example.net', 'https://app.example.com.evil.net', 'http://app.example.com', 'null', 'https://example.org']) {
      expect(await handshakeStatus(url, { Origin: origin }), origin).toBe(403);
    }
    expect(await handshakeStatus(url, { Origin: 'https://app.example.com' })).toBe(101);
    expect(await handshakeStatus(url, { Origin: 'https://chat.example.org' })).toBe(101);
    expect(gw.node.connections.size).toBeLessThanOrEqual(2);
  });
});

describe('sizes, floods and stalls', () => {
  let gw: Gateway | undefined;
  afterEach(async () => { await gw?.close(); gw = undefined; });

  it('closes 3501 on a frame over limits.maxFrameBytes', async () => {
    gw = await startGateway({ limits: { maxFrameBytes: 4096 } });
    const c = await connectAuthed(gw.wsUrl, 'alice');
    c.send({ type: 'ping', pad: 'x'.repeat(10_000) });
    expect(await c.waitClose()).toBe(3501);
  });

  it('refuses an HTTP body over limits.maxHttpBodyBytes with 413 (server API)', async () => {
    gw = await startGateway({ apiKeys: [API_KEY], limits: { maxHttpBodyBytes: 2048 }, namespaces: { chat: {} } });
    const post = (n: number) => fetch(`${gw!.url}/api/publish`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
      body: JSON.stringify({ channel: 'chat:a', data: { pad: 'x'.repeat(n) } }),
    });
    expect((await post(100)).status).toBe(200);
    expect((await post(100_000)).status).toBe(413);
  });

  it('rate-limits a connection flood from one IP with 429 at the handshake', async () => {
    gw = await startGateway({ limits: { connectionsPerIpPerSecond: 3 } });
    const statuses = await Promise.all(Array.from({ length: 20 }, () => handshakeStatus(gw!.wsUrl)));
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
    expect(statuses.filter((s) => s === 101).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 101 || s === 429)).toBe(true);
  });

  it('cuts off a handshake that never completes (partial HTTP request)', async () => {
    gw = await startGateway({ limits: { handshakeTimeoutMs: 500 } });
    const { port } = new URL(gw.url);
    const sock = tcpConnect(Number(port), '127.0.0.1');
    let received = '';
    sock.on('data', (d) => (received += d));
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /ws HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'); // no blank line: never ends
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('socket still open after 8 s')), 8000);
      sock.once('close', () => { clearTimeout(t); resolve(); });
    });
    expect(received === '' || received.startsWith('HTTP/1.1 408')).toBe(true);
    expect(gw.node.connections.size).toBe(0);
  });

  it('a connection that never sends a request holds a shutdown no longer than the handshake timeout', async () => {
    const g = await startGateway({ limits: { handshakeTimeoutMs: 500 } });
    const { port } = new URL(g.url);
    const sock = tcpConnect(Number(port), '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const closedSock = new Promise<void>((r) => sock.once('close', () => r()));
    await g.close(); // resolves (it waited for the silent socket forever before)
    await closedSock;
  });

  it('closes a WebSocket that never authenticates after auth.timeoutMs', async () => {
    gw = await startGateway({ auth: { jwtSecret: SECRET, timeoutMs: 300 } });
    const c = new RawClient(gw.wsUrl);
    await c.opened;
    expect(await c.waitClose()).toBe(3501);
    expect(c.frames[0]).toMatchObject({ type: 'auth_failed', reason: 'auth_timeout' });
  });
});
