import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwitchboardApi, SwitchboardApiError } from '@switchboard/api-client';
import { createServer } from '../../src/index.ts';
import { createLogger } from '../../src/logger.ts';
import { RawClient, connectAuthed, startGateway, SECRET } from '../helpers.ts';

const KEY = 'first-key-0123456789';
const KEY2 = 'second-key-abcdefghij';
type Gateway = Awaited<ReturnType<typeof startGateway>>;

let gw: Gateway;
let api: SwitchboardApi;
const clients: RawClient[] = [];

async function post(path: string, body: unknown, headers: Record<string, string> = { 'x-api-key': KEY }): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function client(user: string, channels: string[] = []): Promise<RawClient> {
  const c = await connectAuthed(gw.wsUrl, user, { channels: ['*'] });
  clients.push(c);
  for (const channel of channels) expect((await c.request({ type: 'subscribe', channel })).type).toBe('ack');
  return c;
}

beforeAll(async () => {
  gw = await startGateway({
    apiKeys: [KEY, KEY2],
    limits: { maxHttpBodyBytes: 4096 },
    namespaces: { '': {}, chat: { history: { size: 100, ttl: '1h' }, presence: true } },
  });
  api = new SwitchboardApi({ url: gw.url, apiKey: KEY });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await gw.close();
});

describe('API keys', () => {
  it('401 without a key, with a wrong key, or with an unknown scheme', async () => {
    const noKeys: Array<Record<string, string>> = [{}, { 'x-api-key': 'wrong-key-0123456789' }, { authorization: `apikey ${KEY}x` }, { authorization: `Bearer ${KEY}` }];
    for (const headers of noKeys) {
      const r = await post('/api/info', {}, headers);
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
    }
    const missing = await post('/api/info', {}, {});
    expect(missing.body.error.message).toContain('X-API-Key');
  });

  it('either configured key works, in either header, the scheme in any case', async () => {
    const goodKeys: Array<Record<string, string>> = [{ 'x-api-key': KEY }, { 'x-api-key': KEY2 }, { authorization: `apikey ${KEY2}` }, { authorization: `ApiKey ${KEY}` }];
    for (const headers of goodKeys) {
      expect((await post('/api/info', {}, headers)).status).toBe(200);
    }
  });

  it('the client surfaces a wrong key as SwitchboardApiError 401', async () => {
    const bad = new SwitchboardApi({ url: gw.url, apiKey: 'not-the-key-0123456789' });
    const err = await bad.info().catch((e) => e);
    expect(err).toBeInstanceOf(SwitchboardApiError);
    expect([err.status, err.code]).toEqual([401, 'unauthorized']);
  });

  it('the client reports an unreachable gateway as a temporary error with status 0', async () => {
    const { freePort } = await import('../../../../test/support/ports.ts');
    const gone = new SwitchboardApi({ url: `http://127.0.0.1:${await freePort()}`, apiKey: KEY });
    const err = await gone.info().catch((e) => e);
    expect(err).toBeInstanceOf(SwitchboardApiError);
    expect([err.status, err.code, err.temporary]).toEqual([0, 'network', true]);
  });

  it('a gateway without keys answers 503 and says how to configure one', async () => {
    const bare = await startGateway({});
    try {
      const res = await fetch(`${bare.url}/api/publish`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: '{}' });
      expect(res.status).toBe(503);
      const body = await res.json();
      expect(body.error.code).toBe('not_available');
      expect(body.error.message).toContain('apiKeys');
      expect(body.error.message).toContain('SWITCHBOARD_API_KEY');
    } finally {
      await bare.close();
    }
  });

  it('keys never reach the logs, even at trace level and on failures', async () => {
    let logged = '';
    const sink = new Writable({ write(chunk, _enc, cb) { logged += chunk.toString(); cb(); } });
    const server = await createServer({
      options: { port: 0, host: '127.0.0.1', storage: 'memory', apiKeys: [KEY], auth: { jwtSecret: SECRET }, namespaces: { chat: { history: { size: 10, ttl: '1h' } } } },
      logger: createLogger('trace', sink),
    });
    const { url } = await server.listen();
    try {
      const call = (key: string, body: unknown) => fetch(`${url}/api/publish`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `apikey ${key}` }, body: JSON.stringify(body) });
      await call('wrong-key-9876543210', { channel: 'chat:a', data: 1 });
      server.node.history.append = async () => { throw new Error('store down'); };
      expect((await call(KEY, { channel: 'chat:a', data: 1 })).status).toBe(503);
    } finally {
      await server.close();
    }
    expect(logged).toContain('server API request failed');
    expect(logged).not.toContain(KEY);
    expect(logged).not.toContain('wrong-key-9876543210');
  });
});

describe('bad requests', () => {
  it('400 names the missing, mistyped or unknown field', async () => {
    const cases: Array<[string, unknown, string]> = [
      ['/api/publish', { data: 1 }, 'channel'],
      ['/api/publish', { channel: 5, data: 1 }, 'channel'],
      ['/api/publish', { channel: 'chat:a' }, 'data'],
      ['/api/publish', { channel: 'chat:a', data: 1, chanel: 'typo' }, 'chanel'],
      ['/api/publish', { channel: 'chat:a', data: 1, idempotencyKey: 7 }, 'idempotencyKey'],
      ['/api/broadcast', { channels: 'chat:a', data: 1 }, 'channels'],
      ['/api/send', { user: '', data: 1 }, 'user'],
      ['/api/disconnect', { user: 'a', code: 'x' }, 'code'],
      ['/api/unsubscribe', { user: 'a' }, 'channel'],
      ['/api/history', { channel: 'chat:a', since: { epoch: 'e', offset: -1 } }, 'since.offset'],
      ['/api/history', { channel: 'chat:a', limit: 1.5 }, 'limit'],
      ['/api/channels', { pattern: 3 }, 'pattern'],
      ['/api/info', { verbose: true }, 'verbose'],
    ];
    for (const [path, body, field] of cases) {
      const r = await post(path, body);
      expect({ path, status: r.status, code: r.body.error?.code, field: r.body.error?.field }).toEqual({ path, status: 400, code: 'bad_request', field });
      expect(r.body.error.message).toContain(field);
    }
  });

  it('a body that is not a JSON object is 400; not JSON at all is 400; another content type is 415', async () => {
    expect((await post('/api/publish', '[1,2]')).status).toBe(400);
    expect((await post('/api/publish', '{"__proto__": {"polluted": true}, "channel": "chat:a", "data": 1}')).status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const broken = await post('/api/publish', '{"channel": ');
    expect([broken.status, broken.body.error.code]).toEqual([400, 'bad_request']);
    const res = await fetch(`${gw.url}/api/publish`, { method: 'POST', headers: { 'content-type': 'text/csv', 'x-api-key': KEY }, body: 'a,b' });
    expect(res.status).toBe(415);
    expect((await res.json()).error.message).toContain('application/json');
  });

  it('an empty body counts as {}: fine for info, a missing field for publish', async () => {
    expect((await post('/api/info', '')).status).toBe(200);
    const r = await post('/api/publish', '');
    expect([r.status, r.body.error.field, r.body.error.message]).toEqual([400, 'channel', 'channel: is required (string)']);
  });

  it('a body over limits.maxHttpBodyBytes is 413', async () => {
    const r = await post('/api/publish', { channel: 'chat:a', data: 'x'.repeat(5000) });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('limit_exceeded');
  });

  it('an unknown route is 404 with the error shape', async () => {
    const r = await post('/api/nope', {});
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
  });
});

describe('POST /api/push (the seed\'s shape)', () => {
  it('single → the user\'s personal channel; room → the channel; all → every connection', async () => {
    const alice = await client('push-alice', ['#push-alice', 'chat:room']);
    const bob = await client('push-bob');
    const single = await api.push({ type: 'single', pointer: 'push-alice', content: { n: 1 } });
    expect(single).toEqual({ epoch: expect.any(String), offset: 1, duplicate: false });
    expect(await alice.next((f) => f.type === 'message' && f.channel === '#push-alice')).toMatchObject({ data: { n: 1 } });

    const room = await post('/api/push', { type: 'room', pointer: 'chat:room', content: 'to the room' });
    expect(room.status).toBe(200);
    expect(room.body).toMatchObject({ offset: 1, duplicate: false });
    await alice.next((f) => f.type === 'message' && f.channel === 'chat:room' && f.data === 'to the room');

    const all = await api.push({ type: 'all', content: { notice: 'maintenance' } });
    expect((all as { connections: number }).connections).toBeGreaterThanOrEqual(2);
    for (const c of [alice, bob]) {
      expect(await c.next((f) => f.type === 'message' && f.channel === '*')).toMatchObject({ data: { notice: 'maintenance' }, ts: expect.any(Number) });
    }
  });

  it('400 says which field is wrong', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ pointer: 'a', content: 1 }, 'type', /type/],
      [{ type: 'group', pointer: 'a', content: 1 }, 'type', /single.*room.*all/],
      [{ type: 'single', pointer: 42, content: 1 }, 'pointer', /user id/],
      [{ type: 'single', content: 1 }, 'pointer', /pointer/],
      [{ type: 'room', pointer: 'no spaces', content: 1 }, 'pointer', /^pointer: /],
      [{ type: 'room', pointer: ['chat:a'], content: 1 }, 'pointer', /channel/],
      [{ type: 'all' }, 'content', /content/],
    ];
    for (const [body, field, message] of cases) {
      const r = await post('/api/push', body);
      expect({ body, status: r.status, field: r.body.error?.field }).toEqual({ body, status: 400, field });
      expect(r.body.error.message).toMatch(message);
    }
    const unknownNs = await post('/api/push', { type: 'room', pointer: 'nope:x', content: 1 });
    expect(unknownNs.status).toBe(404);
  });
});
