import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../src/index.ts';
import { RawClient, connectAuthed, startGateway } from './helpers.ts';
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

async function gateway(rpc: Record<string, unknown> = {}, extra: ConfigInput = {}): Promise<Gateway> {
  const gw = await startGateway({ namespaces: { chat: { allowSubscribe: true, allowPublish: true } }, ...extra, hooks: { rpc: { url: `${backend.url}/rpc`, timeoutMs: 3000, ...rpc } } as ConfigInput['hooks'] });
  gateways.push(gw);
  return gw;
}

async function client(gw: Gateway, user = 'alice', claims: Record<string, unknown> = {}): Promise<RawClient> {
  const c = await connectAuthed(gw.wsUrl, user, claims);
  clients.push(c);
  return c;
}

describe('rpc', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await gateway();
  });

  it('a client RPC gets the backend\'s answer under its id, and the backend saw the caller', async () => {
    backend.handlers.rpc = (body) => ({ body: { result: { echo: body.data, total: 42 } } });
    const c = await client(gw, 'alice', { info: { name: 'Alice' } });
    const me = c.frames.find((f) => f.type === 'auth_success');
    const answer = await c.request({ type: 'rpc', id: 'call-1', method: 'orders.total', data: { cart: [1, 2] } });
    expect(answer).toEqual({ type: 'ack', id: 'call-1', result: { echo: { cart: [1, 2] }, total: 42 } });
    const [req] = backend.of('rpc');
    expect(req).toMatchObject({ hook: 'rpc', method: 'orders.total', data: { cart: [1, 2] }, user: 'alice', client: me.client, info: { name: 'Alice' }, ip: '127.0.0.1' });
    expect(JSON.stringify(req)).not.toContain(me.session);
  });

  it('the backend\'s {error} reaches the client as rpc_error with its code and data', async () => {
    backend.handlers.rpc = () => ({ body: { error: { code: 'not_found', message: 'no such order', data: { order: 7 } } } });
    const c = await client(gw);
    expect(await c.request({ type: 'rpc', method: 'orders.get', data: 7 })).toMatchObject({
      type: 'error', code: 'rpc_error', message: 'no such order', temporary: false, details: { code: 'not_found', data: { order: 7 } },
    });
  });

  it('a failing backend is backend_unavailable (temporary), saying why: HTTP status, bad answer, too large', async () => {
    const c = await client(gw);
    backend.handlers.rpc = () => ({ status: 500, body: { result: 'ignored' } });
    expect(await c.request({ type: 'rpc', method: 'm' })).toMatchObject({ type: 'error', code: 'backend_unavailable', temporary: true, message: expect.stringContaining('HTTP 500') });
    backend.handlers.rpc = () => ({ body: { neither: true } });
    expect(await c.request({ type: 'rpc', method: 'm' })).toMatchObject({ code: 'backend_unavailable', message: expect.stringContaining('neither') });
    backend.handlers.rpc = () => ({ body: { result: 'x'.repeat(70_000) } });
    expect(await c.request({ type: 'rpc', method: 'm' })).toMatchObject({ code: 'backend_unavailable', message: expect.stringContaining('maxResponseBytes') });
  });

  it('refuses malformed calls clearly and keeps the connection', async () => {
    const c = await client(gw);
    c.send({ type: 'rpc', method: 'm' });
    expect(await c.next((f) => f.type === 'error')).toMatchObject({ code: 'bad_request', message: expect.stringContaining('id is required') });
    expect(await c.request({ type: 'rpc', method: 'has space' })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('method') });
    expect(await c.request({ type: 'rpc', method: 42 })).toMatchObject({ code: 'bad_request' });
    expect(backend.of('rpc')).toHaveLength(0);
    expect(c.closeCode).toBeUndefined();
  });
});

describe('rpc limits', () => {
  it('a call waiting for the backend does not hold up the connection\'s other commands', async () => {
    const gw = await gateway({ timeoutMs: 60_000 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    backend.handlers.rpc = async () => { await held; return { body: { result: 'late' } }; };
    const c = await client(gw);
    c.send({ type: 'rpc', id: 'slow', method: 'slow' });
    expect((await c.request({ type: 'publish', channel: 'chat:x', data: 1 })).type).toBe('ack');
    expect(c.frames.some((f) => f.id === 'slow')).toBe(false);
    release();
    expect(await c.next((f) => f.id === 'slow')).toMatchObject({ type: 'ack', result: 'late' });
  });

  it('a hanging backend times out after hooks.rpc.timeoutMs: backend_unavailable', async () => {
    const gw = await gateway({ timeoutMs: 300 });
    backend.handlers.rpc = () => 'hang';
    const c = await client(gw);
    expect(await c.request({ type: 'rpc', method: 'slow' }, 15_000)).toMatchObject({ type: 'error', code: 'backend_unavailable', temporary: true, message: expect.stringContaining('300 ms') });
  });

  it('at most hooks.rpc.maxInflight calls wait at once; at most hooks.rpc.perSecond a second', async () => {
    const gw = await gateway({ maxInflight: 1, timeoutMs: 60_000 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    backend.handlers.rpc = async () => { await held; return { body: { result: 'done' } }; };
    const c = await client(gw);
    c.send({ type: 'rpc', id: 'first', method: 'm' });
    expect(await c.request({ type: 'rpc', id: 'second', method: 'm' })).toMatchObject({ code: 'too_many_requests', temporary: true, message: expect.stringContaining('maxInflight') });
    release();
    expect(await c.next((f) => f.id === 'first')).toMatchObject({ type: 'ack', result: 'done' });

    const limited = await gateway({ perSecond: 1 });
    backend.handlers.rpc = () => ({ body: { result: 'ok' } });
    const d = await client(limited);
    // Sent at once: the bucket (burst 2) cannot refill 5 tokens while they are read.
    for (let i = 0; i < 5; i++) d.send({ type: 'rpc', id: `b${i}`, method: 'm' });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await d.next((f) => f.id === `b${i}`)).code ?? 'ok');
    expect(answers).toContain('too_many_requests');
    expect(answers.slice(0, 2)).toEqual(['ok', 'ok']);
  });

  it('without hooks.rpc.url an rpc is not_available', async () => {
    const gw = await startGateway({});
    gateways.push(gw);
    const c = await client(gw);
    expect(await c.request({ type: 'rpc', method: 'm' })).toMatchObject({ code: 'not_available', message: expect.stringContaining('hooks.rpc.url') });
  });
});
