/**
 * `npm run bench -- cluster-publish [--seconds 5] [--connections 256] [--channels 96] [--queued 4] [--concurrency 512] [--topologies one,cluster]`
 *
 * Publish throughput of cluster mode against what Redis itself can do, for one Redis and for
 * a 3-primary Redis Cluster, each started by the bench on free loopback ports and stopped
 * when it is done:
 *
 * 1. Redis ceiling: the publish script itself (`RedisHistoryStore.appendAndPublish`: offset,
 *    XADD, trim, idempotency key, SPUBLISH, in one Lua script) run straight from this process
 *    on an auto-pipelined ioredis client with `--concurrency` calls in flight, over the same
 *    channels, payloads and idempotency keys the gateway gets.
 * 2. End to end: one real gateway process (`switchboard serve --redis …`), `--connections`
 *    WebSocket publishers spread over `--channels` history channels (so they spread over
 *    every shard), each keeping `--queued` publish frames queued; every publication is
 *    counted when its `ack` arrives (a duplicate ack is not counted).
 *
 * Prints both, their ratio, and the cluster's end to end against one Redis's.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startRedis } from '../../test/support/redis.ts';
import { startRedisCluster } from '../../test/support/redis-cluster.ts';
import { startGatewayProcess } from '../../test/support/gateway-process.ts';
import { SECRET, token } from '../../packages/server/test/helpers.ts';
import { closeRedis, connectRedis } from '../../packages/server/src/redis/connect.ts';
import { RedisHistoryStore } from '../../packages/server/src/history/redis-history-store.ts';
import { RedisKeys } from '../../packages/server/src/redis/keys.ts';
import { num, type Comparison, type ScenarioContext, type ScenarioResult } from './types.ts';

type Topology = 'one' | 'cluster';
const LABEL: Record<Topology, string> = { one: '1 Redis', cluster: '3-primary Redis Cluster' };
const HISTORY = { size: 1000, ttl: '1h' };
const RETENTION = { size: 1000, ttlMs: 3_600_000, dedupWindowMs: 120_000 };

interface TopologyResult {
  ceiling: number;
  endToEnd: number;
  ratio: number;
  /** Channels per primary (by port) for the cluster: they spread over every shard. */
  channelsPerShard?: Record<string, number>;
  acked: number;
  refused: number;
}

const channelName = (i: number) => `chat:c${i}`;

/** Runs `work` on `concurrency` loops for `seconds` after a 1 s warm-up; counts completions per second. */
async function rate(seconds: number, concurrency: number, work: (loop: number, n: number) => Promise<unknown>): Promise<number> {
  let counting = false;
  let done = 0;
  let stop = false;
  const loops = Array.from({ length: concurrency }, async (_, loop) => {
    for (let n = 0; !stop; n++) {
      await work(loop, n);
      if (counting) done++;
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  counting = false;
  stop = true;
  await Promise.all(loops);
  return Math.round(done / elapsed);
}

/** The publish script straight from this process: what Redis can do (the ceiling). */
async function ceiling(url: string, ctx: ScenarioContext, channels: number): Promise<number> {
  const connection = await connectRedis({ url, name: 'bench:ceiling' });
  const store = new RedisHistoryStore({ connection, publish: true, keys: new RedisKeys('sbceil:') });
  try {
    const concurrency = num(ctx, 'concurrency', 512);
    const run = `${Date.now().toString(36)}`;
    return await rate(num(ctx, 'seconds', 5), concurrency, (loop, n) => store.appendAndPublish!(
      channelName(loop % channels),
      { channel: '', data: { text: 'hello world', n }, ts: Date.now(), from: `p${loop}`, id: `${run}-${loop}-${n}` },
      { ...RETENTION, idempotencyKey: `${run}-${loop}-${n}`, publisher: `u:p${loop}` },
    ));
  } finally {
    await closeRedis(connection.redis);
  }
}

/** A publisher connection: keeps `queued` publish frames outstanding, counts acks. */
async function publisher(wsUrl: string, user: string, channel: string, queued: number, tally: { acked: number; refused: number; counting: boolean; stop: boolean }): Promise<() => Promise<void>> {
  const ws = new WebSocket(`${wsUrl}?token=${await token(user, { channels: ['chat:*'], publish: ['chat:*'] })}`);
  let next = 0;
  const send = () => ws.send(`{"type":"publish","id":"${user}-${++next}","channel":"${channel}","data":{"text":"hello world","n":${next}}}`);
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString());
      if (f.type === 'auth_success') {
        for (let i = 0; i < queued; i++) send();
        resolve();
      } else if (f.type === 'ack' || f.type === 'error') {
        if (tally.counting) {
          if (f.type === 'ack' && !f.duplicate) tally.acked++;
          else tally.refused++;
        }
        if (!tally.stop) send();
      } else if (f.type === 'ping') ws.send('{"type":"pong"}');
      else if (f.type === 'auth_failed') reject(new Error(`auth_failed ${f.reason}`));
    });
    ws.once('error', reject);
    ws.once('close', () => closed());
  });
  return async () => {
    ws.close();
    await done;
  };
}

/** Acknowledged publications per second through a real gateway process. */
async function endToEnd(url: string, ctx: ScenarioContext, channels: number): Promise<{ rate: number; acked: number; refused: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-cluster-'));
  writeFileSync(join(dir, 'c.json'), JSON.stringify({
    limits: { commandsPerSecond: 1_000_000, connectionsPerIpPerSecond: 100_000 },
    namespaces: { '': {}, chat: { history: HISTORY, allowSubscribe: true, allowPublish: true } },
  }));
  const gw = await startGatewayProcess({ args: ['--config', join(dir, 'c.json'), '--redis', url, '--jwt-secret', SECRET], startTimeoutMs: 120_000 });
  try {
    const connections = num(ctx, 'connections', 256);
    const queued = Math.max(1, num(ctx, 'queued', 4));
    const tally = { acked: 0, refused: 0, counting: false, stop: false };
    const closers = [];
    for (let i = 0; i < connections; i++) closers.push(await publisher(gw.wsUrl, `p${i}`, channelName(i % channels), queued, tally));
    await new Promise((r) => setTimeout(r, 1000));
    tally.counting = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, num(ctx, 'seconds', 5) * 1000));
    const elapsed = (performance.now() - t0) / 1000;
    tally.counting = false;
    tally.stop = true;
    await Promise.all(closers.map((c) => c()));
    return { rate: Math.round(tally.acked / elapsed), acked: tally.acked, refused: tally.refused };
  } finally {
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Which primary (port) owns each channel's slot. */
async function spread(url: string, channels: number): Promise<Record<string, number>> {
  const { redis } = await connectRedis({ url, name: 'bench:slots' });
  try {
    const ranges = (await redis.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    const keys = new RedisKeys();
    const out: Record<string, number> = Object.create(null);
    for (let i = 0; i < channels; i++) {
      const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', keys.meta(channelName(i))));
      const port = String(ranges.find(([lo, hi]) => slot >= lo && slot <= hi)![2][1]);
      out[port] = (out[port] ?? 0) + 1;
    }
    return out;
  } finally {
    await closeRedis(redis);
  }
}

export async function clusterPublish(ctx: ScenarioContext): Promise<ScenarioResult> {
  const channels = num(ctx, 'channels', 96);
  const wanted = (typeof ctx.args.topologies === 'string' ? ctx.args.topologies : 'one,cluster').split(',') as Topology[];
  for (const t of wanted) if (t !== 'one' && t !== 'cluster') throw new Error(`--topologies: unknown "${t}" (one, cluster)`);
  const results: Partial<Record<Topology, TopologyResult>> = {};
  for (const topology of wanted) {
    ctx.log(`${LABEL[topology]}: starting`);
    const server = topology === 'one' ? await startRedis() : await startRedisCluster(3);
    try {
      const channelsPerShard = topology === 'cluster' ? await spread(server.url, channels) : undefined;
      if (channelsPerShard) ctx.log(`${LABEL[topology]}: channels per primary ${JSON.stringify(channelsPerShard)}`);
      const c = await ceiling(server.url, ctx, channels);
      ctx.log(`${LABEL[topology]}: Redis ceiling (the publish script, pipelined ioredis) ${c} publications/s`);
      const e = await endToEnd(server.url, ctx, channels);
      const ratio = Math.round((e.rate / c) * 100) / 100;
      ctx.log(`${LABEL[topology]}: end to end ${e.rate} acknowledged publications/s (${e.refused} refused): ${ratio}× the ceiling`);
      results[topology] = { ceiling: c, endToEnd: e.rate, ratio, acked: e.acked, refused: e.refused, ...(channelsPerShard ? { channelsPerShard } : {}) };
    } finally {
      await server.stop();
    }
  }
  const comparisons: Comparison[] = [];
  const notes: string[] = [];
  for (const t of wanted) {
    const r = results[t]!;
    comparisons.push(
      { metric: `${LABEL[t]}: Redis ceiling`, unit: 'publications/s', higherIsBetter: true, values: { switchboard: r.ceiling } },
      { metric: `${LABEL[t]}: end to end (acked)`, unit: 'publications/s', higherIsBetter: true, values: { switchboard: r.endToEnd } },
      { metric: `${LABEL[t]}: end to end / ceiling`, unit: 'ratio', higherIsBetter: true, values: { switchboard: r.ratio } },
    );
    notes.push(`${LABEL[t]}: end to end is ${r.ratio}× the Redis ceiling (target ≥ 0.5: ${r.ratio >= 0.5 ? 'met' : 'NOT met'})`);
  }
  if (results.one && results.cluster) {
    const x = Math.round((results.cluster.endToEnd / results.one.endToEnd) * 100) / 100;
    comparisons.push({ metric: '3 primaries / 1 Redis, end to end', unit: 'ratio', higherIsBetter: true, values: { switchboard: x } });
    notes.push(`3 primaries carry ${x}× one Redis end to end (ceilings: ${results.cluster.ceiling} vs ${results.one.ceiling} publications/s)`);
  }
  return {
    scenario: 'cluster-publish',
    params: { seconds: num(ctx, 'seconds', 5), connections: num(ctx, 'connections', 256), channels, queued: num(ctx, 'queued', 4), concurrency: num(ctx, 'concurrency', 512) },
    peers: { switchboard: results },
    comparisons,
    notes,
  };
}
