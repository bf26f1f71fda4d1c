import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAdminUi } from '../admin-ui/build.ts';
import { connectAuthed, startGateway } from './helpers.ts';

const PASSWORD = 'admin-test-password-1234';
type Gateway = Awaited<ReturnType<typeof startGateway>>;

/** A POST as the admin page sends it (same-origin Origin header, JSON body). */
function post(g: Gateway, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${g.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: g.url, ...headers }, body: JSON.stringify(body) });
}

async function login(g: Gateway): Promise<string> {
  const r = await post(g, '/admin/api/login', { password: PASSWORD });
  expect(r.status).toBe(200);
  return r.headers.get('set-cookie')!.split(';')[0]!;
}

describe('admin UI over HTTP', () => {
  let g: Gateway;
  beforeAll(async () => {
    await ensureAdminUi();
    g = await startGateway({ admin: { password: PASSWORD, loginAttemptsPerMinute: 5 }, namespaces: { '': {}, chat: { history: { size: 10, ttl: '1h' }, presence: true, allowSubscribe: true } } });
  });
  afterAll(async () => {
    await g?.close();
  });

  it('answers 404 on a gateway without an admin password', async () => {
    const plain = await startGateway();
    try {
      for (const path of ['/admin/', '/admin', '/admin/api/overview', '/admin/api/session']) {
        expect((await fetch(`${plain.url}${path}`)).status, path).toBe(404);
      }
      expect((await post(plain, '/admin/api/login', { password: PASSWORD })).status).toBe(404);
    } finally {
      await plain.close();
    }
  });

  it('answers 401 on the admin API without a session, or with a made-up one', async () => {
    for (const path of ['/admin/api/session', '/admin/api/overview', '/admin/api/channels', '/admin/api/connections']) {
      const r = await fetch(`${g.url}${path}`);
      expect(r.status, path).toBe(401);
      expect((await r.json()).error.code).toBe('unauthorized');
      expect((await fetch(`${g.url}${path}`, { headers: { cookie: 'sb_admin=forged-session-id' } })).status).toBe(401);
    }
    expect((await post(g, '/admin/api/disconnect', { user: 'alice' })).status).toBe(401);
  });

  it('serves the page with no-cache and its hashed assets immutable, gzipped when accepted', async () => {
    const page = await fetch(`${g.url}/admin/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await page.text();
    const assets = [...html.matchAll(/\/admin\/assets\/([\w.-]+)/g)].map((m) => m[1]!);
    expect(assets.some((a) => /^main-\w+\.js$/.test(a)) && assets.some((a) => /^main-\w+\.css$/.test(a))).toBe(true);
    let total = 0;
    for (const a of assets) {
      const r = await fetch(`${g.url}/admin/assets/${a}`, { headers: { 'accept-encoding': 'gzip' } });
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(r.headers.get('content-encoding')).toBe('gzip');
      total += (await r.arrayBuffer()).byteLength;
    }
    // "A few hundred KB at most": Preact, uPlot and the pages, decompressed.
    expect(total).toBeLessThan(300 * 1024);
    expect((await fetch(`${g.url}/admin/assets/main-NOSUCH.js`)).status).toBe(404);
  });

  it('refuses a wrong password and gives an HttpOnly, SameSite=Strict, expiring cookie for the right one', async () => {
    const wrong = await post(g, '/admin/api/login', { password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const r = await post(g, '/admin/api/login', { password: PASSWORD });
    expect(r.status).toBe(200);
    const cookie = r.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^sb_admin=[\w-]{43};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/admin');
    expect(cookie).toMatch(/Max-Age=28800/);
    expect(cookie).toMatch(/Expires=/);
    const session = cookie.split(';')[0]!;
    const s = await fetch(`${g.url}/admin/api/session`, { headers: { cookie: session } });
    expect(s.status).toBe(200);
    expect((await s.json()).expiresAt).toBeGreaterThan(Date.now());
    // logout ends the session on the server, not only in the browser
    expect((await post(g, '/admin/api/logout', {}, { cookie: session })).status).toBe(200);
    expect((await fetch(`${g.url}/admin/api/session`, { headers: { cookie: session } })).status).toBe(401);
  });

  it('refuses state-changing requests without a same-origin Origin, or with a body that is not JSON (CSRF)', async () => {
    const session = await login(g);
    const noOrigin = await fetch(`${g.url}/admin/api/disconnect`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: session }, body: '{"user":"alice"}' });
    expect(noOrigin.status).toBe(403);
    expect((await post(g, '/admin/api/disconnect', { user: 'alice' }, { cookie: session, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(g, '/admin/api/disconnect', { user: 'alice' }, { cookie: session, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post(g, '/admin/api/login', { password: PASSWORD }, { origin: 'https://evil.example' })).status).toBe(403);
    // A body that is not JSON: 415, even same-origin (a cross-site HTML form cannot post).
    for (const [path, type, body] of [
      ['/admin/api/disconnect', 'text/plain', '{"user":"alice"}'],
      ['/admin/api/block', 'text/plain;charset=UTF-8', '{"user":"alice"}'],
      ['/admin/api/disconnect', 'application/x-www-form-urlencoded', 'user=alice'],
      ['/admin/api/login', 'text/plain', `{"password":"${PASSWORD}"}`],
    ] as const) {
      const r = await fetch(`${g.url}${path}`, { method: 'POST', headers: { 'content-type': type, origin: g.url, cookie: session }, body });
      expect({ path, type, status: r.status }).toEqual({ path, type, status: 415 });
      expect((await r.json()).error.message).toMatch(/application\/json/);
    }
    expect((await post(g, '/admin/api/disconnect', { user: 'alice' }, { cookie: session })).status).toBe(200);
  });

  it('shows a subscribed connection and its channel, and disconnects the user (the client is closed 3503)', async () => {
    const session = await login(g);
    const alice = await connectAuthed(g.wsUrl, 'alice', { channels: ['chat:*'] });
    expect((await alice.request({ type: 'subscribe', channel: 'chat:lobby' })).type).toBe('ack');
    const conns = await (await fetch(`${g.url}/admin/api/connections?user=alice`, { headers: { cookie: session } })).json();
    expect(conns.missing).toEqual([]);
    expect(conns.connections).toHaveLength(1);
    // alice's personal channel #alice (auto-subscribed) and the one she subscribed to
    expect(conns.connections[0]).toMatchObject({ user: 'alice', transport: 'websocket', ip: '127.0.0.1', channels: ['#alice', 'chat:lobby'], channelCount: 2 });
    const channels = await (await fetch(`${g.url}/admin/api/channels?pattern=chat:*`, { headers: { cookie: session } })).json();
    expect(channels.channels).toEqual([{ channel: 'chat:lobby', subscribers: 1 }]);
    expect((await post(g, '/admin/api/publish', { channel: 'chat:lobby', data: { text: 'from admin' } }, { cookie: session })).status).toBe(200);
    await alice.next((f) => f.type === 'message' && f.data?.text === 'from admin');
    const detail = await (await fetch(`${g.url}/admin/api/channel?name=chat:lobby`, { headers: { cookie: session } })).json();
    expect(detail.subscribers).toBe(1);
    expect(detail.presence.users.map((u: { user: string }) => u.user)).toEqual(['alice']);
    expect(detail.history.publications.map((p: { data: unknown }) => p.data)).toEqual([{ text: 'from admin' }]);
    expect((await post(g, '/admin/api/disconnect', { user: 'alice' }, { cookie: session })).status).toBe(200);
    expect(await alice.waitClose()).toBe(3503);
    expect((await post(g, '/admin/api/disconnect', { user: 'not a user!' }, { cookie: session })).status).toBe(400);
  });

  it('blocks, unblocks and revokes a user with the server API\'s operations', async () => {
    const session = await login(g);
    const bob = await connectAuthed(g.wsUrl, 'bob');
    expect((await post(g, '/admin/api/block', { user: 'bob', ttl: 3600, reason: 'spam' }, { cookie: session })).status).toBe(200);
    expect(await bob.waitClose()).toBe(3502);
    const access = async () => (await post(g, '/admin/api/access', { user: 'bob' }, { cookie: session })).json();
    expect(await access()).toMatchObject({ user: 'bob', blocked: true, reason: 'spam' });
    const refused = await connectAuthed(g.wsUrl, 'bob');
    expect(refused.frames.find((f) => f.type === 'auth_failed')?.reason).toBe('blocked');
    expect((await post(g, '/admin/api/unblock', { user: 'bob' }, { cookie: session })).status).toBe(200);
    expect((await access()).blocked).toBe(false);
    const back = await connectAuthed(g.wsUrl, 'bob');
    expect(back.frames.some((f) => f.type === 'auth_success')).toBe(true);
    back.close();
    expect((await post(g, '/admin/api/revoke', { user: 'bob' }, { cookie: session })).status).toBe(200);
    expect((await access()).revokedBefore).toBeGreaterThan(0);
    expect((await post(g, '/admin/api/block', { user: 'bob', ttl: -1 }, { cookie: session })).status).toBe(400);
    expect((await post(g, '/admin/api/block', { user: 'bob' }, { cookie: session, origin: 'https://evil.example' })).status).toBe(403);
  });

  it('rate-limits login attempts per IP, even with the right password', async () => {
    const limited = await startGateway({ admin: { password: PASSWORD, loginAttemptsPerMinute: 3 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await post(limited, '/admin/api/login', { password: `wrong-${i}` })).status);
      const blocked = await post(limited, '/admin/api/login', { password: PASSWORD });
      expect(statuses).toEqual([401, 401, 401]);
      expect(blocked.status).toBe(429);
      expect(blocked.headers.get('set-cookie')).toBeNull();
      expect((await blocked.json()).error.code).toBe('too_many_requests');
    } finally {
      await limited.close();
    }
  });
});
