import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { createServer as createGateway } from '../src/index.ts';
import { RedisKeys } from '../src/redis/keys.ts';
import { RawClient, SECRET, connectAuthed, token } from './helpers.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';

/** Attack classes found in the hardening pass (docs/security.md lists each with this file). */
const clients: RawClient[] = [];
const closers: Array<() => Promise<void>> = [];
let redis: RedisProcess | undefined;
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const close of closers.splice(0)) await close();
});
afterAll(async () => {
  await redis?.stop();
});

async function gateway(options: Record<string, unknown>) {
  const lines: string[] = [];
  const sink = new Writable({ write(c: Buffer, _e, done) { lines.push(c.toString()); done(); } });
  const gw = await createGateway({ options: { port: 0, host: '127.0.0.1', storage: 'memory', auth: { jwtSecret: SECRET }, ...options }, logger: createLogger('warn', sink) });
  const addr = await gw.listen();
  closers.push(() => gw.close());
  return { gw, wsUrl: addr.wsUrl, lines };
}

describe('oversized hook answers', () => {
  it('a connect hook streaming an endless body (no Content-Length) is cut off at 1 MiB, not buffered', async () => {
    let written = 0;
    const backend: Server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }); // chunked: no Content-Length
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => { backend.closeAllConnections(); backend.close(() => r()); }));
    const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/connect`;
    const { wsUrl, lines } = await gateway({ hooks: { connect: { url, timeoutMs: 20_000 } } });
    const c = new RawClient(wsUrl);
    clients.push(c);
    c.send({ type: 'auth' });
    expect(await c.next((f) => f.type === 'auth_failed', 25_000)).toMatchObject({ type: 'auth_failed' });
    expect(lines.join('')).toContain('answer too large');
    expect(written).toBeLessThan(16 * 1024 * 1024);
  }, 60_000);
});

describe('malformed Redis payloads (a compromised or foreign node)', () => {
  it('publications and control messages that are not what a node writes are ignored; the gateway keeps serving', async () => {
    redis ??= await startRedis();
    const { wsUrl, lines } = await gateway({ storage: 'redis', redis: redis.url, namespaces: { chat: { allowSubscribe: true, allowPublish: true } } });
    const c = await connectAuthed(wsUrl, 'alice');
    clients.push(c);
    expect((await c.request({ type: 'subscribe', channel: 'chat:x' })).type).toBe('ack');
    const keys = new RedisKeys();
    const r = new Redis(redis.url);
    closers.push(async () => r.disconnect());
    const pubsub = keys.pubsub('chat:x');
    const bad = ['not json', 'null', '[]', '42', '{"ts":"x"}', '{"data":1}', '{"ts":1,"offset":"x"}', '{"ts":1,"epoch":5}', `{"ts":1,"data":${'['.repeat(5000)}${']'.repeat(5000)}}`];
    for (const m of bad) {
      await r.publish(pubsub, m);
      await r.call('SPUBLISH', pubsub, m).catch(() => {}); // Redis 7 nodes use sharded pub/sub
    }
    const control = ['garbage', 'null', '{"type":5}', '{"type":"all","frame":5}', '{"type":"all"}', '{"type":"disconnect"}', '{"type":"disconnect","user":"alice","code":"x"}',
      '{"type":"presence"}', '{"type":"presence","event":"join"}', '{"type":"user_event"}', '{"type":"unsubscribe"}', '{"type":"nope"}'];
    for (const m of control) await r.publish(keys.control(), m);
    // A publication that claims another channel is delivered on the channel it came by.
    await r.publish(pubsub, JSON.stringify({ channel: 'chat:other', data: 'relabelled', ts: Date.now() }));
    await r.call('SPUBLISH', pubsub, JSON.stringify({ channel: 'chat:other', data: 'relabelled', ts: Date.now() })).catch(() => {});
    const m = await c.next((f) => f.type === 'message' && f.data === 'relabelled', 10_000);
    expect(m.channel).toBe('chat:x');
    // Still serving: a real publication arrives, the socket is open.
    expect((await c.request({ type: 'publish', channel: 'chat:x', data: 'real' })).type).toBe('ack');
    await c.next((f) => f.type === 'message' && f.data === 'real', 10_000);
    await c.roundtrip();
    expect(lines.some((l) => l.includes('malformed'))).toBe(true);
    const other = await connectAuthed(wsUrl, 'bob', { channels: ['*'] });
    clients.push(other);
    expect(other.frames[0].type).toBe('auth_success');
    void token;
  }, 90_000);
});
