/**
 * Cluster publish throughput through Redis, on this machine.
 *
 *   npx node bench/cluster-publish.ts            (starts its own redis-server and 2 gateways)
 *
 * 1. Store level: RedisHistoryStore.appendAndPublish (one Lua script: offset, XADD, trim,
 *    idempotency key, SPUBLISH) from one process, with 1 and 64 calls in flight.
 * 2. End to end: publishers on node A (WebSocket, acked), one subscriber on node B; reports
 *    acknowledged publications per second and checks every one arrived on B in order.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../test/support/redis.ts';
import { startGatewayProcess } from '../test/support/gateway-process.ts';
import { waitFor } from '../test/support/ports.ts';
import WebSocket from 'ws';
import { SECRET, token } from '../packages/server/test/helpers.ts';
import { connectRedis } from '../packages/server/src/redis/connect.ts';
import { RedisHistoryStore } from '../packages/server/src/history/redis-history-store.ts';

/** A lean client: requests by id, pushes to `onFrame` (the test RawClient keeps every frame). */
async function open(wsUrl: string, user: string, onFrame: (f: any) => unknown = () => {}) {
  const ws = new WebSocket(`${wsUrl}?token=${await token(user, { channels: ['chat:*'], publish: ['chat:*'] })}`);
  // Ids are idempotency keys: unique per client, or publishes of two clients dedupe each other.
  const waiting = new Map<string, (f: any) => void>();
  let next = 0;
  const authed = new Promise<void>((resolve, reject) => {
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString());
      if (f.type === 'auth_success') resolve();
      else if (f.type === 'auth_failed') reject(new Error(f.reason));
      else if ((f.type === 'ack' || f.type === 'error') && waiting.has(f.id)) {
        waiting.get(f.id)!(f);
        waiting.delete(f.id);
      } else if (f.type === 'ping') ws.send('{"type":"pong"}');
      else onFrame(f);
    });
    ws.once('error', reject);
  });
  await authed;
  return {
    ws,
    call: (frame: Record<string, unknown>) => new Promise<any>((resolve) => {
      const id = `${user}-${++next}`;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ ...frame, id }));
    }),
  };
}

const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const redis = await startRedis();
try {
  const store = new RedisHistoryStore({ connection: await connectRedis({ url: redis.url, name: 'bench' }), publish: true });
  const retention = { size: 1000, ttlMs: 3_600_000, dedupWindowMs: 60_000 };
  for (const inFlight of [1, 16, 64]) {
    let n = 0;
    const end = Date.now() + SECONDS * 1000;
    const worker = async () => {
      while (Date.now() < end) {
        await store.appendAndPublish!(`bench:s${inFlight}`, { channel: '', data: { text: 'hello world', n }, ts: Date.now() }, { ...retention, idempotencyKey: `k${n++}` });
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    console.log(`store: appendAndPublish, ${inFlight} in flight: ${Math.round(n / SECONDS)} publications/s`);
  }
  await store.close();

  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-'));
  writeFileSync(join(dir, 'c.json'), JSON.stringify({ limits: { commandsPerSecond: 1_000_000 }, namespaces: { '': {}, chat: { history: { size: 1000, ttl: '1h' }, allowSubscribe: true, allowPublish: true } } }));
  const args = ['--config', join(dir, 'c.json'), '--redis', redis.url, '--jwt-secret', SECRET];
  const [a, b] = await Promise.all([startGatewayProcess({ args }), startGatewayProcess({ args })]);
  try {
    const offsets: number[] = [];
    const sub = await open(b!.wsUrl, 'sub', (f) => f.type === 'message' && offsets.push(f.offset));
    await sub.call({ type: 'subscribe', channel: 'chat:bench' });
    const pubs = await Promise.all(Array.from({ length: 4 }, (_, i) => open(a!.wsUrl, `p${i}`)));
    let acked = 0;
    const end = Date.now() + SECONDS * 1000;
    await Promise.all(pubs.map((p) => Promise.all(Array.from({ length: 16 }, async () => {
      // 16 publishes in flight per connection.
      while (Date.now() < end) {
        const r = await p.call({ type: 'publish', channel: 'chat:bench', data: { text: 'hello world' } });
        if (r.type === 'ack' && !r.duplicate) acked++;
      }
    }))));
    await waitFor(() => offsets.length >= acked, 30_000, 'subscriber to catch up');
    const inOrder = offsets.every((o, i) => o === i + 1);
    console.log(`end to end: 4 publishers on node A, 1 subscriber on node B: ${Math.round(acked / SECONDS)} acked publications/s; all ${offsets.length} delivered in order: ${inOrder}`);
    for (const c of [sub, ...pubs]) c.ws.terminate();
  } finally {
    await Promise.all([a!.kill(), b!.kill()]);
  }
} finally {
  await redis.stop();
}
