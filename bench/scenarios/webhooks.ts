/**
 * `npm run bench -- webhooks [--events 5000] [--keys 1000] [--delay 50] [--concurrency 64] [--batch 100] [--storages memory,sqlite,redis]`
 *
 * Webhook delivery against the outbox's own ceiling, in one process, per storage (a real
 * redis-server the bench starts on a free loopback port; SQLite in a temporary file):
 *
 * 1. Ceiling: the outbox alone, `--events` events over `--keys` channels added, then taken and
 *    removed (`due` for `--concurrency` at a time, `done` for each) as fast as the store
 *    answers: the events per second any delivery loop on it can reach.
 * 2. Delivery: the same events through the real `Webhooks` loop to an HTTP receiver that answers
 *    each request after `--delay` ms: one request at a time (`concurrency: 1`, as every version
 *    before 0.2 delivered), then `--concurrency` at once, then `--concurrency` batches of up to
 *    `--batch` events. Checks each event arrived once and each channel's in order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRedis, type RedisProcess } from '../../test/support/redis.ts';
import { connectRedis } from '../../packages/server/src/redis/connect.ts';
import { RedisKeys } from '../../packages/server/src/redis/keys.ts';
import { RedisWebhookOutbox } from '../../packages/server/src/webhooks/redis-webhook-outbox.ts';
import { SqliteWebhookOutbox } from '../../packages/server/src/webhooks/sqlite-webhook-outbox.ts';
import { openSqlite } from '../../packages/server/src/sqlite/database.ts';
import { MemoryWebhookOutbox, newWebhookEvent, type WebhookOutbox } from '../../packages/server/src/webhooks/webhook-outbox.ts';
import { Webhooks } from '../../packages/server/src/webhooks/webhooks.ts';
import { createLogger } from '../../packages/server/src/logger.ts';
import { num, type Comparison, type ScenarioContext, type ScenarioResult } from './types.ts';

type Storage = 'memory' | 'sqlite' | 'redis';

/** An HTTP receiver answering 204 after `delay` ms; counts events per id and checks per-channel order. */
async function receiver(delay: number) {
  const seen = new Map<string, number>();
  const last = new Map<string, number>();
  let outOfOrder = 0;
  let count = 0;
  const record = (e: { id: string; channel: string; publication: { data: { n: number } } }) => {
    seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
    if ((last.get(e.channel) ?? -1) >= e.publication.data.n) outOfOrder++;
    last.set(e.channel, e.publication.data.n);
    count++;
  };
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => setTimeout(() => {
      const body = JSON.parse(raw);
      for (const e of body.events ?? [body]) record(e);
      res.writeHead(204).end();
    }, delay));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    get count() { return count; },
    report: () => ({ unique: seen.size, twice: [...seen.values()].filter((n) => n > 1).length, outOfOrder }),
    reset() { seen.clear(); last.clear(); outOfOrder = 0; count = 0; },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);

export async function webhooks(ctx: ScenarioContext): Promise<ScenarioResult> {
  const events = num(ctx, 'events', 5000);
  const keys = num(ctx, 'keys', 1000);
  const delay = num(ctx, 'delay', 50);
  const concurrency = num(ctx, 'concurrency', 64);
  const batch = num(ctx, 'batch', 100);
  const storages = (typeof ctx.args.storages === 'string' ? ctx.args.storages.split(',') : ['memory', 'sqlite', 'redis']) as Storage[];
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-webhooks-'));
  let redis: RedisProcess | undefined;
  const rx = await receiver(delay);
  const log = createLogger('warn');
  const results: Record<string, { ceiling: number; modes: Record<string, { eventsPerSec: number; events: number; unique: number; twice: number; outOfOrder: number }> }> = {};
  const comparisons: Comparison[] = [];
  const notes: string[] = [];
  let opened = 0;
  const open = async (storage: Storage): Promise<WebhookOutbox> => {
    if (storage === 'memory') return new MemoryWebhookOutbox();
    if (storage === 'sqlite') return new SqliteWebhookOutbox(openSqlite(join(dir, `o${opened++}.db`)));
    redis ??= await startRedis();
    return new RedisWebhookOutbox({ connection: await connectRedis({ url: redis.url, name: 'bench' }), keys: new RedisKeys(`b${randomBytes(3).toString('hex')}:`) });
  };
  const fill = async (outbox: WebhookOutbox) => {
    // Round-robin over the channels: channel k gets n = k, k + keys, … (its order).
    for (let n = 0; n < events; n++) await outbox.add(newWebhookEvent('publication', { channel: `feed:${n % keys}`, publication: { channel: `feed:${n % keys}`, data: { n } } }));
  };
  try {
    for (const storage of storages) {
      const r: Record<string, number> = {};
      const modes: Record<string, { eventsPerSec: number; events: number; unique: number; twice: number; outOfOrder: number }> = {};
      // 1. The outbox's ceiling: due + done, `concurrency` at a time, no HTTP.
      {
        const outbox = await open(storage);
        await fill(outbox);
        const t0 = performance.now();
        let taken = 0;
        for (;;) {
          const got = await outbox.due(Date.now(), concurrency, 60_000);
          if (got.length === 0) break;
          await Promise.all(got.map((e) => outbox.done(e.event.id)));
          taken += got.length;
        }
        r.ceiling = rate(taken, performance.now() - t0);
        ctx.log(`${storage}: outbox ceiling (due ${concurrency} + done each): ${r.ceiling} events/s`);
        await outbox.close();
      }
      // 2. Delivery to a receiver answering in `delay` ms.
      for (const [name, c, b] of [['serial', 1, 0], ['parallel', concurrency, 0], ['batched', concurrency, batch]] as const) {
        // One request at a time is slow: a tenth of the events (at least 100) tells its rate.
        const n = name === 'serial' ? Math.max(100, Math.floor(events / 10)) : events;
        const outbox = await open(storage);
        for (let i = 0; i < n; i++) await outbox.add(newWebhookEvent('publication', { channel: `feed:${i % keys}`, publication: { channel: `feed:${i % keys}`, data: { n: i } } }));
        rx.reset();
        const w = new Webhooks({
          config: { url: rx.url, secret: 'bench-secret-0123456789', events: ['publication'], timeoutMs: 10_000, retryDelayMs: 1000, maxRetryDelayMs: 5000, maxAttempts: 20, concurrency: c, batch: b },
          outbox, log,
        });
        const t0 = performance.now();
        w.start();
        const deadline = Date.now() + 300_000;
        while (rx.count < n && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
        const ms = performance.now() - t0;
        await w.close();
        const rep = rx.report();
        r[name] = rate(rep.unique, ms);
        modes[name] = { eventsPerSec: r[name]!, events: n, ...rep };
        ctx.log(`${storage}: ${name} (concurrency ${c}${b ? `, batch ${b}` : ''}): ${r[name]} events/s (${rep.unique}/${n} events, ${rep.twice} twice, ${rep.outOfOrder} out of order)`);
        if (rep.twice || rep.outOfOrder || rep.unique < n) notes.push(`${storage} ${name}: ${rep.unique}/${n} events, ${rep.twice} twice, ${rep.outOfOrder} out of order`);
      }
      results[storage] = { ceiling: r.ceiling!, modes };
      comparisons.push(
        { metric: `${storage}: outbox ceiling (due + done)`, unit: 'events/s', higherIsBetter: true, values: { switchboard: r.ceiling! } },
        { metric: `${storage}: to a ${delay} ms receiver, one at a time (before)`, unit: 'events/s', higherIsBetter: true, values: { switchboard: r.serial! } },
        { metric: `${storage}: to a ${delay} ms receiver, concurrency ${concurrency}`, unit: 'events/s', higherIsBetter: true, values: { switchboard: r.parallel! } },
        { metric: `${storage}: to a ${delay} ms receiver, concurrency ${concurrency}, batch ${batch}`, unit: 'events/s', higherIsBetter: true, values: { switchboard: r.batched! } },
      );
    }
    notes.push(`${events} publication events over ${keys} channels, filled before delivery starts; the receiver runs in the bench's process`);
    return { scenario: 'webhooks', params: { events, keys, delay, concurrency, batch, storages }, peers: { switchboard: results }, comparisons, notes };
  } finally {
    await rx.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
