import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { SECRET } from '../packages/server/test/helpers.ts';

/**
 * Webhooks that keep up (issue 30's Done-when): 10,000 `publication` webhooks to a receiver
 * that answers each request in 50 ms, from two gateway processes sharing one real
 * redis-server outbox, one event per request and in batches. Every event arrives once, and
 * each channel's in the order its publications were made. The time taken is printed (speed is measured by `npm run bench --
 * webhooks`, not asserted here).
 */
const HOOK_SECRET = 'throughput-webhook-secret-0123456789';
const API_KEY = 'throughput-api-key-0123456789';
const CHANNELS = 1000;
const ROUNDS = 10;

for (const mode of [{ name: 'one event per request', batch: 0 }, { name: 'batches of up to 50 (webhooks.batch)', batch: 50 }]) describe(`10,000 publication webhooks to a 50 ms receiver, two nodes on Redis, ${mode.name}`, { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-webhooks-throughput-'));
  /** channel → the rounds received, in arrival order; id → times received. */
  const byChannel = new Map<string, number[]>();
  const seen = new Map<string, number>();
  let lastAt = 0;
  const receiver = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      // Recorded when the answer is sent: the next event of a channel may only be sent after it.
      setTimeout(() => {
        const body = JSON.parse(raw);
        for (const e of mode.batch ? body.events : [body]) {
          seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
          const list = byChannel.get(e.channel) ?? [];
          list.push(e.publication.data.round);
          byChannel.set(e.channel, list);
        }
        lastAt = performance.now();
        res.writeHead(204).end();
      }, 50);
    });
  });
  let redis: RedisProcess;
  let a: GatewayProcess;
  let b: GatewayProcess;

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    redis = await startRedis();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      apiKeys: [API_KEY],
      namespaces: { feed: { publicationWebhooks: true } },
      webhooks: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, secret: HOOK_SECRET, events: ['publication'], maxAttempts: 1000, batch: mode.batch },
    }));
    const args = ['--config', join(dir, 'config.json'), '--redis', redis.url, '--jwt-secret', SECRET];
    [a, b] = await Promise.all([startGatewayProcess({ args, startTimeoutMs: 150_000 }), startGatewayProcess({ args, startTimeoutMs: 150_000 })]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([a?.kill(), b?.kill()]);
    await redis?.stop();
    receiver.closeAllConnections();
    receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each arrives once, in order per channel', async () => {
    // Half the channels publish through node a, half through node b (each node enqueues its own), at once.
    const half = (from: number) => Array.from({ length: CHANNELS / 2 }, (_, i) => `feed:c${from + i}`);
    const publish = async (node: GatewayProcess, channels: string[]) => {
      for (let round = 0; round < ROUNDS; round++) {
        const res = await fetch(`${node.url}/api/broadcast`, {
          method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: JSON.stringify({ channels, data: { round } }),
        });
        expect(res.status).toBe(200);
        await res.body?.cancel();
      }
    };
    const t0 = performance.now();
    await Promise.all([publish(a, half(0)), publish(b, half(CHANNELS / 2))]);
    const published = performance.now() - t0;
    await waitFor(() => seen.size >= CHANNELS * ROUNDS, 180_000, 'every webhook');
    const took = lastAt - t0;
    console.log(`[webhooks-throughput] ${mode.name}: ${CHANNELS * ROUNDS} publication webhooks to a 50 ms receiver from two nodes: ${(took / 1000).toFixed(2)} s from the first publish (publishing took ${(published / 1000).toFixed(2)} s): ${Math.round((CHANNELS * ROUNDS) / (took / 1000))} events/s`);
    expect(seen.size).toBe(CHANNELS * ROUNDS);
    expect([...seen.values()].filter((n) => n !== 1)).toEqual([]);
    const rounds = Array.from({ length: ROUNDS }, (_, i) => i);
    for (let c = 0; c < CHANNELS; c++) expect(byChannel.get(`feed:c${c}`), `feed:c${c}`).toEqual(rounds);
    // Both nodes delivered (each counts the events of the requests it made).
    const delivered = async (node: GatewayProcess) => Number(/^switchboard_webhooks_delivered_total (\d+)$/m.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1]);
    const [da, db] = [await delivered(a), await delivered(b)];
    expect(da + db).toBe(CHANNELS * ROUNDS);
    expect(da > 0 && db > 0).toBe(true);
  });
});
