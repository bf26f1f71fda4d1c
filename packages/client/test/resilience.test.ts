import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, token } from '../../server/test/helpers.ts';
import { freePort, sleep, waitFor } from '../../../test/support/ports.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.ts';
import { HookBackend } from '../../server/test/hook-backend.ts';
import type { Publication } from '../src/index.ts';
import { startRedis } from '../../../test/support/redis.ts';
import { NAMESPACES, closeClients, makeClient, record, until } from './helpers.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
let gw: Gateway;
let proxy: TcpProxy;

beforeAll(async () => {
  gw = await startGateway({ namespaces: NAMESPACES, heartbeat: { intervalMs: 1000, timeoutMs: 500 } });
  proxy = await startTcpProxy(Number(new URL(gw.url).port));
});
afterEach(() => closeClients());
afterAll(async () => {
  await proxy.close();
  await gw.close();
});

describe('connections that break', () => {
  it('proxy cuts mid-stream: every acknowledged publication reaches the subscriber once, in order; retries are not stored twice', async () => {
    const pub = makeClient(proxy.wsUrl, { token: await token('writer') });
    const sub = makeClient(proxy.wsUrl, { token: await token('reader') });
    const pubEv = record(pub);
    const room = sub.subscribe('chat:stream');
    const got: Publication[] = [];
    let recoveries = 0;
    room.on('message', (m) => got.push(m));
    room.on('recovered', () => recoveries++);
    room.on('gap', () => { throw new Error('unexpected gap'); });
    await room.ready();
    await until(pub, 'connected');
    const acked: number[] = [];
    const duplicates: string[] = [];
    let n = 0;
    for (let batch = 0; batch < 12; batch++) {
      const calls = Array.from({ length: 10 }, () => pub.publish('chat:stream', { n: ++n }));
      if (batch % 4 === 1) proxy.cut(); // these calls may not have reached the server
      if (batch % 4 === 3) {
        // the server stores these calls but their acks are lost: the retry must not store them again
        proxy.stall('down');
        await waitFor(async () => (await gw.node.history.position('chat:stream')).offset === n, 5000, 'stored');
        proxy.cut();
      }
      for (const r of await Promise.all(calls)) {
        acked.push(r.offset!);
        if (r.duplicate) duplicates.push(r.id);
      }
    }
    expect(pubEv.count('disconnected')).toBeGreaterThanOrEqual(6);
    expect(duplicates.length).toBe(30); // three batches answered from the dedup window
    // every call acknowledged exactly once with its own offset: 1..120, nothing stored twice
    expect([...acked].sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    await waitFor(() => got.length >= 120, 10_000, 'all 120 publications');
    await sleep(100); // a duplicate would arrive now
    expect(got.map((m) => m.offset)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(new Set(got.map((m) => (m.data as { n: number }).n)).size).toBe(120);
    expect(recoveries).toBeGreaterThanOrEqual(1);
  });

  it('half-open socket (proxy stops forwarding): the heartbeat detects it, reconnects, and the stalled call completes', async () => {
    const c = makeClient(proxy.wsUrl, { token: await token('sleeper'), heartbeatGraceMs: 800 });
    const ev = record(c);
    await until(c, 'connected');
    const first = c.clientId;
    proxy.stall();
    const call = c.publish('chat:halfopen', 'sent into the void');
    await waitFor(() => ev.count('connected') === 2, 10_000, 'reconnect after heartbeat timeout');
    expect(ev.log).toContain('disconnected:1006:heartbeat_timeout');
    expect(c.clientId).not.toBe(first);
    expect(await call).toMatchObject({ offset: 1 });
  });

  it('an unreachable server: reconnect attempts back off and succeed when it is reachable again', async () => {
    const c = makeClient(proxy.wsUrl, { token: await token('patient') });
    const ev = record(c);
    const delays: number[] = [];
    c.on('disconnected', (e) => delays.push(e.reconnectInMs!));
    await until(c, 'connected');
    proxy.refuse(true);
    proxy.cut();
    await waitFor(() => delays.length >= 4, 10_000, 'four failed attempts');
    proxy.refuse(false);
    await waitFor(() => ev.count('connected') === 2, 10_000, 'reconnected');
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(0);
    for (const d of delays) expect(d).toBeLessThanOrEqual(250); // full jitter under maxDelayMs
  });

  it('gives up after reconnect.maxAttempts failures in a row', async () => {
    const c = makeClient(proxy.wsUrl, { token: await token('quitter'), reconnect: { maxAttempts: 2 } });
    const ev = record(c);
    await until(c, 'connected');
    proxy.refuse(true);
    try {
      proxy.cut();
      await until(c, 'closed');
      expect(ev.log.at(-1)).toMatch(/^closed:1006:max_attempts$/);
      expect(ev.count('connecting')).toBe(3); // the first connection and two retries
    } finally {
      proxy.refuse(false);
    }
  });

  it('browser offline/online events: no attempts while offline, an immediate retry on online', async () => {
    const win = new EventTarget();
    let online = true;
    const c = makeClient(proxy.wsUrl, { token: await token('commuter'), window: win, isOnline: () => online, reconnect: { minDelayMs: 60_000, maxDelayMs: 60_000 } });
    const ev = record(c);
    await until(c, 'connected');
    online = false;
    win.dispatchEvent(new Event('offline'));
    expect(c.state).toBe('disconnected');
    expect(ev.log.at(-1)).toBe('disconnected:1006:network_offline');
    await sleep(100);
    expect(ev.count('connecting')).toBe(1);
    online = true;
    win.dispatchEvent(new Event('online'));
    await until(c, 'connected'); // at once, although the backoff says a minute
  });
});

describe('token expiry and refresh', () => {
  it('refreshes a short-lived token on the live connection before it expires (no reconnect)', async () => {
    let minted = 0;
    const c = makeClient(gw.wsUrl, { token: () => { minted++; return token('shorty', { ttlSec: 2 }); } });
    const ev = record(c);
    const sub = c.subscribe('chat:refresh');
    await sub.ready();
    const conn = [...gw.node.connections].find((x) => x.user === 'shorty')!;
    const firstExpiry = conn.identity!.expiresAtMs!;
    await waitFor(() => ev.count('token') >= 3, 10_000, 'three refreshes');
    expect(conn.state).toBe('ready'); // the same server connection
    expect(conn.identity!.expiresAtMs!).toBeGreaterThan(firstExpiry);
    expect(ev.count('connecting')).toBe(1);
    expect(ev.count('disconnected')).toBe(0);
    expect(minted).toBeGreaterThanOrEqual(4);
    expect((await c.publish('chat:refresh', 'still here')).offset).toBe(1);
  });

  it('refreshes when the server says token_expiring', async () => {
    const g = await startGateway({ namespaces: NAMESPACES, auth: { expiringNoticeMs: 3_599_000 } });
    try {
      let minted = 0;
      const c = makeClient(g.wsUrl, { token: () => { minted++; return token('noticed', { ttlSec: 3600, info: { n: minted } }); } });
      const ev = record(c);
      await until(c, 'connected');
      await waitFor(() => ev.count('token') >= 1, 5000, 'a refresh');
      expect(minted).toBeGreaterThanOrEqual(2);
      expect(ev.count('connecting')).toBe(1);
    } finally {
      await g.close();
    }
  });

  it('without a token (connect hook, e.g. a cookie session) it extends the connection with a bare refresh', async () => {
    const backend = await new HookBackend().start();
    const soon = () => Math.floor(Date.now() / 1000) + 2;
    backend.handlers.connect = () => ({ body: { allow: true, user: 'cookie-user', expiresAt: soon() } });
    backend.handlers.refresh = () => ({ body: { allow: true, expiresAt: soon() } });
    const g = await startGateway({ namespaces: NAMESPACES, hooks: { connect: { url: `${backend.url}/connect` }, refresh: { url: `${backend.url}/refresh` } } });
    try {
      const c = makeClient(g.wsUrl);
      const ev = record(c);
      await until(c, 'connected');
      expect(c.user).toBe('cookie-user');
      await waitFor(() => ev.count('token') >= 2, 10_000, 'two hook refreshes');
      expect(backend.of('refresh').length).toBeGreaterThanOrEqual(2);
      expect(ev.count('connecting')).toBe(1);
    } finally {
      await g.close();
      await backend.close();
    }
  });

  it('a fixed token that expires cannot be refreshed: closed after the server refuses it', async () => {
    const g = await startGateway({ namespaces: NAMESPACES, auth: { clockToleranceSec: 0, expiringNoticeMs: 1000 } });
    try {
      const c = makeClient(g.wsUrl, { token: await token('stale', { ttlSec: 1 }) });
      const ev = record(c);
      await until(c, 'closed', 10_000);
      expect(ev.log).toContain('disconnected:3005:token_expired');
      expect(ev.log.at(-1)).toBe('closed:3500:token_expired');
    } finally {
      await g.close();
    }
  });
});

describe('server restart', () => {
  it('memory history is lost on restart: the subscription reports a gap (recovered: false) and goes on', async () => {
    const port = await freePort();
    const opts = { namespaces: NAMESPACES, port, shutdown: { reconnectSpreadMs: 50 } };
    let g = await startGateway(opts);
    try {
      const c = makeClient(g.wsUrl, { token: await token('restarter') });
      const room = c.subscribe('chat:restart');
      const gaps: unknown[] = [];
      const got: unknown[] = [];
      room.on('gap', (e) => gaps.push(e));
      room.on('message', (m) => got.push(m.data));
      await room.ready();
      await c.publish('chat:restart', 'before');
      await waitFor(() => got.length === 1);
      const before = room.position!;
      await g.close();
      g = await startGateway(opts);
      await waitFor(() => gaps.length === 1, 10_000, 'gap after restart');
      expect(gaps[0]).toMatchObject({ previous: before, offset: 0 });
      expect((gaps[0] as { epoch: string }).epoch).not.toBe(before.epoch);
      await c.publish('chat:restart', 'after');
      await waitFor(() => got.length === 2);
      expect(got).toEqual(['before', 'after']);
    } finally {
      await g.close();
    }
  });
});

describe('the gateway cannot authenticate for now (its Redis is down)', () => {
  it('a temporary error answering auth: reconnects with backoff (never waits into the terminal auth timeout) and connects once Redis is back', async () => {
    const redis = await startRedis();
    // A short auth timeout: waiting on the unanswered auth would close the client for good (3501).
    const g = await startGateway({ namespaces: NAMESPACES, storage: 'redis', redis: redis.url, auth: { timeoutMs: 1000 } });
    try {
      await redis.kill();
      const c = makeClient(g.wsUrl, { token: await token('early') });
      const ev = record(c);
      await waitFor(() => ev.log.filter((l) => l === 'disconnected:1006:auth_unavailable').length >= 2, 20_000, 'two refused authentications');
      expect(ev.log).toContain('error:internal');
      expect(ev.count('closed')).toBe(0);
      await redis.restart();
      await until(c, 'connected', 30_000);
      expect(ev.count('closed')).toBe(0);
    } finally {
      await g.close();
      await redis.stop();
    }
  }, 60_000);
});
