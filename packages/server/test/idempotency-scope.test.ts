import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectAuthed, startGateway, type RawClient } from './helpers.ts';

/**
 * Idempotency keys are per publisher and channel: alice's `order-42` never swallows bob's
 * `order-42`, and the server API's idempotencyKey is a space of its own.
 */
const KEY = 'idempotency-scope-key-0123';
const dir = mkdtempSync(join(tmpdir(), 'sb-idem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const clients: RawClient[] = [];
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

const NAMESPACES = { chat: { history: { size: 100, ttl: '1h' }, allowSubscribe: true, allowPublish: true }, live: { allowSubscribe: true, allowPublish: true } };

async function gateway(storage: string) {
  const gw = await startGateway({ storage, apiKeys: [KEY], namespaces: NAMESPACES });
  servers.push(gw);
  return gw;
}
async function user(wsUrl: string, name: string): Promise<RawClient> {
  const c = await connectAuthed(wsUrl, name);
  clients.push(c);
  return c;
}
async function apiPublish(url: string, channel: string, data: unknown, idempotencyKey: string) {
  const res = await fetch(`${url}/api/publish`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ channel, data, idempotencyKey }) });
  return res.json() as Promise<{ duplicate: boolean; offset?: number }>;
}

for (const storage of ['memory', 'sqlite']) {
  describe(`publish ids are scoped per publisher (${storage})`, () => {
    for (const channel of ['chat:orders', 'live:orders']) {
      it(`${channel}: alice, bob and the server API may all use order-42; only a publisher's own retry is a duplicate`, async () => {
        const gw = await gateway(storage === 'sqlite' ? `sqlite:${join(dir, `${channel.replace(':', '-')}.db`)}` : 'memory');
        const watcher = await user(gw.wsUrl, 'watcher');
        expect((await watcher.request({ type: 'subscribe', channel })).type).toBe('ack');
        const alice = await user(gw.wsUrl, 'alice');
        const bob = await user(gw.wsUrl, 'bob');
        const a = await alice.request({ type: 'publish', id: 'order-42', channel, data: 'from alice' });
        const b = await bob.request({ type: 'publish', id: 'order-42', channel, data: 'from bob' });
        const s = await apiPublish(gw.url, channel, 'from the server', 'order-42');
        expect([a.duplicate, b.duplicate, s.duplicate]).toEqual([false, false, false]);
        // Retries: each publisher's own key is a duplicate, with its own first offset.
        const a2 = await alice.request({ type: 'publish', id: 'order-42', channel, data: 'from alice' });
        const b2 = await bob.request({ type: 'publish', id: 'order-42', channel, data: 'from bob' });
        const s2 = await apiPublish(gw.url, channel, 'from the server', 'order-42');
        expect([a2.duplicate, b2.duplicate, s2.duplicate]).toEqual([true, true, true]);
        if (channel.startsWith('chat:')) expect([a2.offset, b2.offset, s2.offset]).toEqual([a.offset, b.offset, s.offset]);
        await watcher.roundtrip();
        await watcher.next((f) => f.type === 'message' && f.data === 'from the server');
        expect(watcher.frames.filter((f) => f.type === 'message').map((f) => f.data)).toEqual(['from alice', 'from bob', 'from the server']);
      });
    }

    it('send: the same id from two senders reaches the recipient twice', async () => {
      const gw = await gateway(storage === 'sqlite' ? `sqlite:${join(dir, 'send.db')}` : 'memory');
      const carol = await user(gw.wsUrl, 'carol');
      const alice = await user(gw.wsUrl, 'alice');
      const bob = await user(gw.wsUrl, 'bob');
      expect((await alice.request({ type: 'send', id: 'hi-1', to: 'carol', data: 'alice says hi' })).duplicate).toBe(false);
      expect((await bob.request({ type: 'send', id: 'hi-1', to: 'carol', data: 'bob says hi' })).duplicate).toBe(false);
      await carol.next((f) => f.type === 'message' && f.data === 'bob says hi');
      expect(carol.frames.filter((f) => f.type === 'message').map((f) => f.data)).toEqual(['alice says hi', 'bob says hi']);
    });
  });
}
