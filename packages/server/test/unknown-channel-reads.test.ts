import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { UNWRITTEN_EPOCH } from '@switchboard/protocol';
import { Switchboard, MemoryStorage } from '@switchboard/client';
import { connectAuthed, startGateway, type RawClient } from './helpers.ts';
import { startRedis, type RedisProcess } from '../../../test/support/redis.ts';
import { waitFor } from '../../../test/support/ports.ts';

/** Reading channels that never existed (subscribe, history, presence) stores nothing: no disk filled by reading. */
const KEY = 'unknown-reads-key-0123456789';
const NAMESPACES = { chat: { history: { size: 100, ttl: '1h' }, presence: true, joinLeave: true, allowSubscribe: true, allowPublish: true } };
const dir = mkdtempSync(join(tmpdir(), 'sb-reads-'));
let redis: RedisProcess | undefined;
const clients: RawClient[] = [];
const sdks: Switchboard[] = [];
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const c of sdks.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** 30 unknown channels read every way a client and the server API can read them. */
async function readUnknownChannels(gw: { wsUrl: string; url: string }): Promise<void> {
  const c = await connectAuthed(gw.wsUrl, 'reader');
  clients.push(c);
  const api = (method: string, body: unknown) => fetch(`${gw.url}/api/${method}`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  for (let i = 0; i < 30; i++) {
    const channel = `chat:never-${i}`;
    expect(await c.request({ type: 'history', channel, limit: 10 })).toMatchObject({ type: 'ack', epoch: UNWRITTEN_EPOCH, offset: 0, publications: [] });
    expect(await c.request({ type: 'presence', channel })).toMatchObject({ type: 'ack', presence: {} });
    expect((await api('history', { channel, limit: 5 })).status).toBe(200);
    expect((await api('presence', { channel })).status).toBe(200);
    if (i % 2 === 0) {
      expect(await c.request({ type: 'subscribe', channel, since: { epoch: 'forged', offset: 99 } })).toMatchObject({ type: 'ack', recovered: false });
      expect((await c.request({ type: 'unsubscribe', channel })).type).toBe('ack');
    }
  }
  await c.roundtrip();
}

describe('reads of unknown channels store nothing', () => {
  it('SQLite: no row is added by 60 channels\' history, presence and subscribe reads', async () => {
    const path = join(dir, 'reads.db');
    const gw = await startGateway({ storage: `sqlite:${path}`, apiKeys: [KEY], namespaces: NAMESPACES });
    await readUnknownChannels(gw);
    await gw.close(); // the gateway holds the file; count once it is closed
    const rows = () => {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        return (db.prepare('SELECT (SELECT count(*) FROM history_streams) + (SELECT count(*) FROM history_pubs) AS n').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    expect(rows()).toBe(0);
  }, 120_000);

  it('Redis: no key is added by the same reads (the reader\'s own session and presence aside)', async () => {
    redis ??= await startRedis();
    const gw = await startGateway({ storage: 'redis', redis: redis.url, apiKeys: [KEY], namespaces: NAMESPACES });
    servers.push(gw);
    const r = new Redis(redis.url);
    try {
      await readUnknownChannels(gw);
      const keys = await r.keys('*never-*');
      expect(keys).toEqual([]);
    } finally {
      r.disconnect();
    }
  }, 120_000);

  it('SDK: a channel subscribed before its first publication has no gap, and recovers what it missed from the start', async () => {
    const gw = await startGateway({ storage: `sqlite:${join(dir, 'sdk.db')}`, apiKeys: [KEY], namespaces: NAMESPACES });
    servers.push(gw);
    const { token } = await import('./helpers.ts');
    const client = new Switchboard(gw.wsUrl, { token: await token('sdk-user'), storage: new MemoryStorage(), window: null, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    sdks.push(client);
    const room = client.subscribe('chat:fresh');
    const got: unknown[] = [];
    const gaps: unknown[] = [];
    room.on('message', (m) => got.push(m.data));
    room.on('gap', (g) => gaps.push(g));
    await room.ready();
    expect(room.position).toEqual({ epoch: UNWRITTEN_EPOCH, offset: 0 });
    await client.publish('chat:fresh', 'first');
    await waitFor(() => got.length === 1);
    expect(gaps).toEqual([]);

    // Another empty channel: the client is offline while its first publications are made.
    const later = client.subscribe('chat:later');
    const missed: unknown[] = [];
    later.on('message', (m) => missed.push(m.data));
    later.on('gap', (g) => gaps.push(g));
    await later.ready();
    const disconnected = new Promise<void>((resolve) => client.once('disconnected', () => resolve()));
    await fetch(`${gw.url}/api/disconnect`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ user: 'sdk-user', code: 3000, reason: 'test' }) });
    await disconnected;
    for (const text of ['a', 'b', 'c']) {
      await fetch(`${gw.url}/api/publish`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'chat:later', data: text }) });
    }
    await waitFor(() => missed.length === 3, 15_000, 'recovered from the unwritten position');
    expect(missed).toEqual(['a', 'b', 'c']);
    expect(gaps).toEqual([]);
  });
});
