import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/index.ts';
import { RawClient, connectAuthed, startGateway, token } from './helpers.ts';
import { HookBackend } from './hook-backend.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
const backend = new HookBackend();
const gateways: Gateway[] = [];
const clients: RawClient[] = [];

beforeAll(async () => {
  await backend.start();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const k of Object.keys(backend.handlers)) delete backend.handlers[k];
  backend.requests.length = 0;
});
afterAll(async () => {
  for (const g of gateways) await g.close();
  await backend.close();
});

/** A gateway whose hooks point at the test backend (`onError` and timeouts per hook). */
async function gateway(hooks: Partial<Record<'connect' | 'subscribe' | 'publish' | 'refresh', { onError?: 'deny' | 'allow'; timeoutMs?: number; forwardHeaders?: string[] }>>, extra: ConfigInput = {}): Promise<Gateway> {
  const cfg: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(hooks)) cfg[name] = { url: `${backend.url}/${name}`, timeoutMs: 1500, ...o };
  const gw = await startGateway({ namespaces: { '': {}, chat: { history: { size: 10, ttl: '1h' } } }, ...extra, hooks: cfg as ConfigInput['hooks'] });
  gateways.push(gw);
  return gw;
}

/** Opens a socket (optionally with a Cookie) and sends `{"type":"auth"}`; resolves with its answer. */
async function hookAuth(gw: Gateway, headers: Record<string, string> = {}, frame: Record<string, unknown> = {}): Promise<{ c: RawClient; answer: any }> {
  const c = new RawClient(gw.wsUrl, { headers });
  clients.push(c);
  c.send({ type: 'auth', ...frame });
  const answer = await c.next((f) => f.type === 'auth_success' || f.type === 'auth_failed');
  return { c, answer };
}

const alice = { allow: true, user: 'alice', info: { name: 'Alice' }, subscribe: ['chat:granted'], publish: [] };

describe('connect hook', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway({ connect: { forwardHeaders: ['cookie', 'x-tenant'] } });
  });

  it('allows: the backend names the user, info and grants; it saw the allow-listed headers and the ip', async () => {
    backend.handlers.connect = () => ({ body: alice });
    const { answer } = await hookAuth(gw, { cookie: 'sid=abc', 'x-tenant': 't1', 'x-other': 'hidden' }, { session: 's_notreal' });
    expect(answer).toMatchObject({ type: 'auth_success', user: 'alice', info: { name: 'Alice' }, permissions: { subscribe: ['chat:granted'], publish: [] }, resumed: false });
    const [req] = backend.of('connect');
    expect(req).toMatchObject({ hook: 'connect', client: answer.client, ip: '127.0.0.1', headers: { cookie: 'sid=abc', 'x-tenant': 't1' }, session: 's_notreal' });
    expect(req.headers['x-other']).toBeUndefined();
    expect(req.token).toBeUndefined();
  });

  it('denies with a code: auth_failed carries it and the socket closes with it', async () => {
    backend.handlers.connect = () => ({ body: { allow: false, code: 4501, reason: 'banned' } });
    const { c, answer } = await hookAuth(gw);
    expect(answer).toEqual({ type: 'auth_failed', code: 4501, reason: 'banned' });
    expect(await c.waitClose()).toBe(4501);
  });

  it('denies without a code (3500), and HTTP 401 is a denial too', async () => {
    backend.handlers.connect = () => ({ body: { allow: false } });
    expect((await hookAuth(gw)).answer).toEqual({ type: 'auth_failed', code: 3500, reason: 'denied' });
    backend.handlers.connect = () => ({ status: 401, body: {} });
    expect((await hookAuth(gw)).answer).toEqual({ type: 'auth_failed', code: 3500, reason: 'unauthorized' });
  });

  it('a backend that never answers, errs or answers nonsense: 3000 backend_unavailable (onError deny)', async () => {
    for (const handler of [() => 'hang' as const, () => ({ status: 500, body: {} }), () => ({ body: { allow: true } }), () => ({ body: 'not json{' })]) {
      backend.handlers.connect = handler;
      const { c, answer } = await hookAuth(gw);
      expect(answer).toEqual({ type: 'auth_failed', code: 3000, reason: 'backend_unavailable' });
      expect(await c.waitClose()).toBe(3000);
    }
  });

  it('a token is verified by the gateway itself; the hook is not asked', async () => {
    backend.handlers.connect = () => ({ body: alice });
    const c = await connectAuthed(gw.wsUrl, 'bob');
    clients.push(c);
    expect(c.frames[0]).toMatchObject({ type: 'auth_success', user: 'bob' });
    expect(backend.of('connect')).toHaveLength(0);
  });

  it('onError allow falls back to the other methods (anonymous here)', async () => {
    const lenient = await gateway({ connect: { onError: 'allow', timeoutMs: 100 } }, { auth: { allowAnonymous: true } });
    backend.handlers.connect = () => 'hang';
    const { answer } = await hookAuth(lenient, {}, { name: 'guest-1' });
    expect(answer).toMatchObject({ type: 'auth_success', user: 'guest-1' });
  });

  it('without a JWT key the hook receives the token (opaque tokens)', async () => {
    const gwNoJwt = await gateway({ connect: {} }, { auth: { jwtSecret: null } });
    backend.handlers.connect = (body) => ({ body: body.token === 'opaque-123' ? { allow: true, user: 'carol' } : { allow: false } });
    const c = new RawClient(`${gwNoJwt.wsUrl}?token=opaque-123`);
    clients.push(c);
    expect(await c.next((f) => f.type === 'auth_success')).toMatchObject({ user: 'carol' });
  });
});

describe('subscribe hook', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway({ subscribe: {} });
  });

  it('allows a channel no grant covers, and saw user, info and channel', async () => {
    backend.handlers.subscribe = (b) => ({ body: { allow: b.channel === 'chat:room-1' } });
    const c = await connectAuthed(gw.wsUrl, 'dave', { info: { level: 3 } } as never);
    clients.push(c);
    expect((await c.request({ type: 'subscribe', channel: 'chat:room-1' })).type).toBe('ack');
    expect(backend.of('subscribe')[0]).toMatchObject({ hook: 'subscribe', user: 'dave', channel: 'chat:room-1', client: c.frames[0].client });
    const denied = await c.request({ type: 'subscribe', channel: 'chat:room-2' });
    expect(denied).toMatchObject({ type: 'error', code: 'permission_denied', message: 'denied' });
  });

  it('denies with a reason, or with a code that closes the connection', async () => {
    const c = await connectAuthed(gw.wsUrl, 'erin');
    clients.push(c);
    backend.handlers.subscribe = () => ({ body: { allow: false, reason: 'not a member' } });
    expect(await c.request({ type: 'subscribe', channel: 'chat:x' })).toMatchObject({ type: 'error', code: 'permission_denied', message: 'not a member' });
    backend.handlers.subscribe = () => ({ body: { allow: false, code: 4403, reason: 'kicked' } });
    c.send({ type: 'subscribe', id: 9, channel: 'chat:y' });
    expect(await c.waitClose()).toBe(4403);
    expect(c.frames.at(-1)).toEqual({ type: 'disconnect', code: 4403, reason: 'kicked' });
  });

  it('a backend that never answers: temporary internal error, and the connection goes on', async () => {
    backend.handlers.subscribe = () => 'hang';
    const c = await connectAuthed(gw.wsUrl, 'frank');
    clients.push(c);
    expect(await c.request({ type: 'subscribe', channel: 'chat:z' })).toMatchObject({ type: 'error', code: 'internal', temporary: true });
    await c.roundtrip();
    expect(c.closeCode).toBeUndefined();
    expect(gw.node.hub.subscribers('chat:z')).toBeUndefined();
  });

  it('personal channels stay owner-only without asking the backend', async () => {
    backend.handlers.subscribe = () => ({ body: { allow: true } });
    const c = await connectAuthed(gw.wsUrl, 'gina');
    clients.push(c);
    expect((await c.request({ type: 'subscribe', channel: '#gina' })).type).toBe('ack');
    expect((await c.request({ type: 'subscribe', channel: '#other' })).code).toBe('permission_denied');
    expect(backend.of('subscribe')).toHaveLength(0);
  });

  it('onError allow lets the subscription through when the backend fails', async () => {
    const lenient = await gateway({ subscribe: { onError: 'allow', timeoutMs: 100 } });
    backend.handlers.subscribe = () => ({ status: 502, body: {} });
    const c = await connectAuthed(lenient.wsUrl, 'hank');
    clients.push(c);
    expect((await c.request({ type: 'subscribe', channel: 'chat:open' })).type).toBe('ack');
  });
});

describe('publish hook', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway({ publish: {} });
  });

  it('allows as is, modifies data, or denies; subscribers see exactly what was allowed', async () => {
    const sub = await connectAuthed(gw.wsUrl, 'reader', { channels: ['chat:*'] });
    const pub = await connectAuthed(gw.wsUrl, 'writer');
    clients.push(sub, pub);
    expect((await sub.request({ type: 'subscribe', channel: 'chat:pub' })).type).toBe('ack');
    backend.handlers.publish = (b) => {
      if (b.data.text === 'spam') return { body: { allow: false, reason: 'spam' } };
      if (b.data.text.includes('darn')) return { body: { allow: true, data: { text: b.data.text.replace('darn', '****'), checked: true } } };
      return { body: { allow: true } };
    };
    expect((await pub.request({ type: 'publish', channel: 'chat:pub', data: { text: 'hello' } })).type).toBe('ack');
    expect((await pub.request({ type: 'publish', channel: 'chat:pub', data: { text: 'darn it' } })).type).toBe('ack');
    expect(await pub.request({ type: 'publish', channel: 'chat:pub', data: { text: 'spam' } })).toMatchObject({ type: 'error', code: 'permission_denied', message: 'spam' });
    await pub.request({ type: 'publish', channel: 'chat:pub', data: { text: 'last' } });
    await sub.next((f) => f.type === 'message' && f.data.text === 'last');
    expect(sub.frames.filter((f) => f.type === 'message').map((f) => f.data)).toEqual([
      { text: 'hello' }, { text: '**** it', checked: true }, { text: 'last' },
    ]);
    expect(backend.of('publish')[0]).toMatchObject({ hook: 'publish', user: 'writer', channel: 'chat:pub', data: { text: 'hello' } });
  });

  it('sees private messages (send) and may replace their data', async () => {
    const bob = await connectAuthed(gw.wsUrl, 'bob2');
    const amy = await connectAuthed(gw.wsUrl, 'amy2');
    clients.push(bob, amy);
    expect((await bob.request({ type: 'subscribe', channel: '#bob2' })).type).toBe('ack');
    backend.handlers.publish = (b) => ({ body: { allow: true, data: { ...b.data, scanned: b.channel } } });
    expect((await amy.request({ type: 'send', to: 'bob2', data: { text: 'hi' } })).type).toBe('ack');
    expect(await bob.next((f) => f.type === 'message')).toMatchObject({ channel: '#bob2', from: 'amy2', data: { text: 'hi', scanned: '#bob2' } });
  });

  it('a backend that never answers: temporary internal error and nothing is published', async () => {
    backend.handlers.publish = () => 'hang';
    const c = await connectAuthed(gw.wsUrl, 'ivan');
    clients.push(c);
    expect(await c.request({ type: 'publish', channel: 'chat:quiet', data: 1 })).toMatchObject({ type: 'error', code: 'internal', temporary: true });
    expect((await gw.node.history.position('chat:quiet')).offset).toBe(0);
  });
});

describe('refresh hook', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway({ connect: {}, refresh: {} });
  });

  it('a cookie-session connection refreshes without a token: the backend extends it, or refuses', async () => {
    const exp1 = Math.floor(Date.now() / 1000) + 120;
    backend.handlers.connect = () => ({ body: { ...alice, expiresAt: exp1 } });
    const { c, answer } = await hookAuth(gw, { cookie: 'sid=xyz' });
    expect(answer).toMatchObject({ user: 'alice', expiresAt: exp1 });
    backend.handlers.refresh = (b) => ({ body: b.headers.cookie === 'sid=xyz' ? { allow: true, expiresAt: exp1 + 3600, info: { name: 'Alice B.' } } : { allow: false } });
    expect(await c.request({ type: 'refresh' })).toMatchObject({ type: 'ack', expiresAt: exp1 + 3600 });
    expect(backend.of('refresh')[0]).toMatchObject({ hook: 'refresh', user: 'alice', expiresAt: exp1, info: { name: 'Alice' } });
    backend.handlers.refresh = () => ({ body: { allow: false, reason: 'logged out' } });
    expect(await c.request({ type: 'refresh' })).toMatchObject({ type: 'error', code: 'permission_denied', message: 'logged out' });
    backend.handlers.refresh = () => 'hang';
    expect(await c.request({ type: 'refresh' })).toMatchObject({ type: 'error', code: 'internal', temporary: true });
  });

  it('without a refresh hook, a refresh needs a token', async () => {
    const plain = await gateway({});
    const c = await connectAuthed(plain.wsUrl, 'judy');
    clients.push(c);
    expect(await c.request({ type: 'refresh' })).toMatchObject({ type: 'error', code: 'bad_request', message: expect.stringContaining('needs a token') });
    expect(await c.request({ type: 'refresh', token: await token('judy') })).toMatchObject({ type: 'ack' });
  });
});
