/**
 * Upgrade by rolling restart (docs/operations.md#upgrade-and-rollback): two gateways on one
 * Redis behind a round-robin balancer without stickiness; a backend publishes continuously
 * through the HTTP API (retrying a failure with the same idempotency key), clients subscribe.
 * Each gateway in turn is stopped with SIGTERM (its clients are told to reconnect, land on the
 * other one and recover from history) and started again. Every acknowledged publication
 * reaches every subscriber exactly once, in order, with no gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Switchboard, type Subscription } from '@switchboard/client';
import { SwitchboardApi } from '@switchboard/api-client';
import { mintToken } from '../packages/server/src/auth/mint.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { startRedis, type RedisProcess } from './support/redis.ts';
import { startRoundRobin, type RoundRobin } from './support/round-robin.ts';
import { sleep, waitFor } from './support/ports.ts';

const SECRET = 'rolling-restart-secret-0123456789abcdef';
const API_KEY = 'rolling-restart-api-key-0123456789';
const CHANNEL = 'chat:rolling';

let redis: RedisProcess;
let gateways: GatewayProcess[] = [];
let lb: RoundRobin;

beforeAll(async () => {
  redis = await startRedis();
  const config = join(mkdtempSync(join(tmpdir(), 'sb-rolling-')), 'switchboard.json');
  writeFileSync(config, JSON.stringify({
    namespaces: { chat: { history: { size: 10_000, ttl: '1h' }, allowSubscribe: true, allowPublish: true } },
    shutdown: { reconnectSpreadMs: 1000 },
  }));
  const env = { SWITCHBOARD_JWT_SECRET: SECRET, SWITCHBOARD_API_KEY: API_KEY };
  gateways = await Promise.all([0, 1].map(() => startGatewayProcess({ args: ['--config', config, '--redis', redis.url], env })));
  lb = await startRoundRobin(gateways.map((g) => g.port));
}, 90_000);
afterAll(async () => {
  await lb?.close();
  await Promise.all(gateways.map((g) => g.stop()));
  await redis?.stop();
});

describe('rolling restart', () => {
  it('loses no acknowledged publication and delivers none twice', async () => {
    const subscribers = await Promise.all([0, 1, 2, 3].map(async (n) => {
      const client = new Switchboard(lb.wsUrl, { token: await mintToken({ sub: `reader-${n}`, secret: SECRET, ttlSec: 600 }), reconnect: { minDelayMs: 50, maxDelayMs: 500 } });
      const sub: Subscription = client.subscribe(CHANNEL);
      const got: number[] = [];
      const gaps: unknown[] = [];
      sub.on('message', (m) => got.push((m.data as { i: number }).i));
      sub.on('gap', (g) => gaps.push(g));
      const moves = { n: 0 };
      client.on('disconnected', () => moves.n++);
      await sub.ready();
      return { client, got, gaps, moves };
    }));
    // The balancer spread them over both gateways.
    expect([...lb.picks.values()].every((n) => n > 0)).toBe(true);

    const api = new SwitchboardApi({ url: lb.url, apiKey: API_KEY, timeoutMs: 5000 });
    const acked: number[] = [];
    let stop = false;
    const publisher = (async () => {
      for (let i = 1; !stop; i++) {
        const deadline = Date.now() + 30_000;
        for (;;) {
          try {
            await api.publish(CHANNEL, { i }, { idempotencyKey: `roll-${i}` });
            acked.push(i);
            break;
          } catch (err) {
            // a draining or stopped gateway: the same idempotency key again, elsewhere
            if (Date.now() > deadline) throw err;
            await sleep(50);
          }
        }
        await sleep(10);
      }
    })();

    for (const gw of gateways) {
      const before = acked.length;
      await waitFor(() => acked.length >= before + 20, 30_000, 'publications before the restart');
      expect(await gw.stop()).toBe(0);
      await gw.restart();
      const after = acked.length;
      await waitFor(() => acked.length >= after + 20, 30_000, 'publications after the restart');
    }
    stop = true;
    await publisher;

    for (const s of subscribers) {
      await waitFor(() => s.got.length >= acked.length, 30_000, `every publication at a subscriber (${s.got.length}/${acked.length})`);
      expect(s.got).toEqual(acked);
      expect(s.gaps).toEqual([]);
      s.client.close();
    }
    expect(acked.length).toBeGreaterThan(80);
    // Every client was on a gateway that stopped under it, and moved.
    for (const s of subscribers) expect(s.moves.n).toBeGreaterThan(0);
  }, 180_000);
});
