/**
 * Seed 003 end to end: the application keeps its sessions in Redis and its browser holds a
 * signed session cookie. The gateway's connect hook forwards the upgrade request's Cookie to
 * the application, which checks the signature (HMAC) and the session in Redis; the
 * application's push process then reaches the user through the server API's push shape.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { SwitchboardApi } from '@switchboard/api-client';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { RawClient, startGateway } from '../packages/server/test/helpers.ts';

const COOKIE_SECRET = 'app-cookie-secret';
const COOKIE = 'app.sid';
const API_KEY = 'push-process-key-0123456789';

const sign = (sid: string) => `${sid}.${createHmac('sha256', COOKIE_SECRET).update(sid).digest('base64url')}`;

/** The sid of a correctly signed cookie value, else undefined (constant-time comparison). */
function unsign(value: string): string | undefined {
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const sid = value.slice(0, dot);
  const expected = Buffer.from(sign(sid));
  const given = Buffer.from(value);
  return expected.length === given.length && timingSafeEqual(expected, given) ? sid : undefined;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

let redisProc: RedisProcess;
let redis: Redis;
let app: Server;
let appUrl = '';
let gw: Awaited<ReturnType<typeof startGateway>>;
let api: SwitchboardApi;
const clients: RawClient[] = [];

/** The application: logs users in (session in Redis, signed cookie) and answers the gateway's connect hook. */
function startApp(): Promise<void> {
  app = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', async () => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      if (req.url === '/login') {
        const { user } = JSON.parse(raw);
        const sid = randomBytes(18).toString('base64url');
        await redis.set(`sess:${sid}`, JSON.stringify({ user, name: `User ${user}` }), 'EX', 600);
        return json(200, { ok: true }, { 'set-cookie': `${COOKIE}=${encodeURIComponent(sign(sid))}; HttpOnly; Path=/` });
      }
      if (req.url === '/hooks/connect') {
        const hook = JSON.parse(raw);
        const value = cookieValue(hook.headers.cookie, COOKIE);
        const sid = value === undefined ? undefined : unsign(value);
        if (sid === undefined) return json(200, { allow: false, code: 4401, reason: 'no_session' });
        const stored = await redis.get(`sess:${sid}`);
        if (stored === null) return json(200, { allow: false, code: 4401, reason: 'session_expired' });
        const s = JSON.parse(stored);
        return json(200, { allow: true, user: s.user, info: { name: s.name }, subscribe: [] });
      }
      json(404, {});
    });
  });
  return new Promise((resolve) => app.listen(0, '127.0.0.1', () => {
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    resolve();
  }));
}

async function login(user: string): Promise<string> {
  const res = await fetch(`${appUrl}/login`, { method: 'POST', body: JSON.stringify({ user }) });
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function connect(headers: Record<string, string>): Promise<{ c: RawClient; answer: any }> {
  const c = new RawClient(gw.wsUrl, { headers });
  clients.push(c);
  c.send({ type: 'auth' });
  return { c, answer: await c.next((f) => f.type === 'auth_success' || f.type === 'auth_failed') };
}

beforeAll(async () => {
  redisProc = await startRedis();
  redis = new Redis(redisProc.url);
  await startApp();
  gw = await startGateway({
    apiKeys: [API_KEY],
    auth: { jwtSecret: null },
    hooks: { connect: { url: `${appUrl}/hooks/connect`, timeoutMs: 2000, forwardHeaders: ['cookie'] } },
  });
  api = new SwitchboardApi({ url: gw.url, apiKey: API_KEY });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await gw?.close();
  await new Promise((r) => app?.close(r));
  redis?.disconnect();
  await redisProc?.stop();
});

it('a WebSocket with the signed session cookie gets in as its user, and the push process reaches it', async () => {
  const cookie = await login('alice');
  const { c, answer } = await connect({ cookie: `theme=dark; ${cookie}` });
  expect(answer).toMatchObject({ type: 'auth_success', user: 'alice', info: { name: 'User alice' } });
  expect((await c.request({ type: 'subscribe', channel: '#alice' })).type).toBe('ack');
  const pushed = await api.push({ type: 'single', pointer: 'alice', content: { text: 'your friend posted' } });
  expect(pushed).toMatchObject({ offset: 1, duplicate: false });
  expect(await c.next((f) => f.type === 'message')).toMatchObject({ channel: '#alice', data: { text: 'your friend posted' } });
});

it('no cookie, a forged cookie, or a session gone from Redis: refused with the application\'s code', async () => {
  expect((await connect({})).answer).toEqual({ type: 'auth_failed', code: 4401, reason: 'no_session' });
  const forged = `${COOKIE}=${encodeURIComponent(`${randomBytes(18).toString('base64url')}.not-the-signature`)}`;
  expect((await connect({ cookie: forged })).answer).toEqual({ type: 'auth_failed', code: 4401, reason: 'no_session' });

  const cookie = await login('bob');
  expect((await connect({ cookie })).answer).toMatchObject({ type: 'auth_success', user: 'bob' });
  const sid = unsign(decodeURIComponent(cookie.split('=')[1]!))!;
  await redis.del(`sess:${sid}`); // logout
  const { c, answer } = await connect({ cookie });
  expect(answer).toEqual({ type: 'auth_failed', code: 4401, reason: 'session_expired' });
  expect(await c.waitClose()).toBe(4401);
});
