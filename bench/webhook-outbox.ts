/**
 * Webhooks in cluster mode, on this machine.
 *
 *   npx node bench/webhook-outbox.ts            (starts its own redis-server and HTTP receiver)
 *
 * 1. Store level: RedisWebhookOutbox.add with 64 calls in flight; occupancy
 *    (occupy + vacate of a fresh channel: two Lua scripts, each enqueueing an event).
 * 2. Delivery: N events through the real `Webhooks` loop to a local HTTP receiver answering
 *    204, with one node and with two nodes delivering from the same outbox at once; reports
 *    events per second and checks each event arrived exactly once.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRedis } from '../test/support/redis.ts';
import { waitFor } from '../test/support/ports.ts';
import { connectRedis } from '../packages/server/src/redis/connect.ts';
import { RedisKeys } from '../packages/server/src/redis/keys.ts';
import { RedisWebhookOutbox } from '../packages/server/src/webhooks/redis-webhook-outbox.ts';
import { RedisOccupancy } from '../packages/server/src/webhooks/redis-occupancy.ts';
import { newWebhookEvent } from '../packages/server/src/webhooks/webhook-outbox.ts';
import { Webhooks } from '../packages/server/src/webhooks/webhooks.ts';
import { createLogger } from '../packages/server/src/logger.ts';

const N = Number(process.env.N ?? 2000);
const redis = await startRedis();
const seen = new Map<string, number>();
const receiver = createServer((req, res) => {
  let raw = '';
  req.on('data', (c) => (raw += c));
  req.on('end', () => {
    const id = JSON.parse(raw).id as string;
    seen.set(id, (seen.get(id) ?? 0) + 1);
    res.writeHead(204).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
const log = createLogger('warn');
const config = { url, secret: 'bench-secret-0123456789', events: ['user.online', 'channel.occupied', 'channel.vacated'] as const, timeoutMs: 5000, retryDelayMs: 1000, maxRetryDelayMs: 5000, maxAttempts: 20 };
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

async function inFlight(total: number, parallel: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < total) await op(next++);
  }));
  return performance.now() - t0;
}

{
  const keys = new RedisKeys(`b${randomBytes(3).toString('hex')}:`);
  const outbox = new RedisWebhookOutbox({ connection: await connectRedis({ url: redis.url, name: 'bench' }), keys });
  const ms = await inFlight(N * 5, 64, (i) => outbox.add(newWebhookEvent('user.online', { user: `u${i}` })));
  console.log(`outbox add (64 in flight): ${rate(N * 5, ms)} events/s`);
  const occ = new RedisOccupancy({ connection: await connectRedis({ url: redis.url, name: 'bench' }), keys, node: 'n1' });
  const ms2 = await inFlight(N, 64, async (i) => {
    await occ.occupy({ kind: 'channel', name: `chat:${i}` }, newWebhookEvent('channel.occupied', { channel: `chat:${i}` }));
    await occ.vacate({ kind: 'channel', name: `chat:${i}` }, newWebhookEvent('channel.vacated', { channel: `chat:${i}` }));
  });
  console.log(`channel occupancy, occupy + vacate (64 in flight): ${rate(N, ms2)} channel cycles/s (2 events enqueued each)`);
  await outbox.close();
}

for (const nodes of [1, 2]) {
  seen.clear();
  const keys = new RedisKeys(`b${randomBytes(3).toString('hex')}:`);
  const filler = new RedisWebhookOutbox({ connection: await connectRedis({ url: redis.url, name: 'bench' }), keys });
  for (let i = 0; i < N; i++) await filler.add(newWebhookEvent('user.online', { user: `u${i}` }));
  const t0 = performance.now();
  const loops = await Promise.all(Array.from({ length: nodes }, async () => {
    const w = new Webhooks({ config: { ...config, events: [...config.events] }, outbox: new RedisWebhookOutbox({ connection: await connectRedis({ url: redis.url, name: 'bench' }), keys }), log });
    w.start();
    return w;
  }));
  await waitFor(() => seen.size >= N, 300_000, 'every event delivered');
  const ms = performance.now() - t0;
  const dup = [...seen.values()].filter((n) => n > 1).length;
  console.log(`delivery, ${nodes} node(s) on one outbox: ${rate(N, ms)} events/s (${N} events, ${dup} delivered twice)`);
  await Promise.all(loops.map((w) => w.close()));
  await filler.close();
}

receiver.close();
await redis.stop();
