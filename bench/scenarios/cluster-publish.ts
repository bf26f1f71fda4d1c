/**
 * `npm run bench -- cluster-publish [--rounds 3] [--seconds 5] [--connections 512] [--channels 96] [--queued 4] [--concurrency 512] [--topologies one,cluster,postgres,nats]`
 *
 * Publish throughput of cluster mode against what the backend itself can do, for one Redis,
 * a 3-primary Redis Cluster, PostgreSQL (`postgres`: its ceiling is the history store
 * straight from this process, group-committed, as step 2 below) and a 3-node NATS JetStream
 * cluster (`nats`: its ceiling is JetStream's own, plain publishes with a message id to a
 * stream replicated 3 times, `--concurrency` in flight; step 2 is `JetStreamHistoryStore`
 * from this process, its conditional appends), each started by the bench on free loopback
 * ports and stopped when it is done. Per topology, `--rounds` rounds of:
 *
 * 1. Redis ceiling: the publish script (`APPEND`: offset, XADD, trim, idempotency key,
 *    SPUBLISH) once per publication, straight from this process on an auto-pipelined ioredis
 *    client with `--concurrency` calls in flight (`RedisHistoryStore` with `batch: false`),
 *    over the same channels, payloads and idempotency keys the gateway gets.
 * 2. Store direct, batched: the same through the store as the gateway uses it (the appends of
 *    one event-loop turn stored per channel in one `APPEND_MANY` call): what Redis can do
 *    with the gateway's own calls.
 * 3. End to end: one real gateway process (`switchboard serve --redis …`), `--connections`
 *    WebSocket publishers spread over `--channels` history channels (so they spread over
 *    every shard), each keeping `--queued` publish frames queued; every publication is
 *    counted when its `ack` arrives (a duplicate ack is not counted). With the CPU time the
 *    gateway and the publishing clients spent per publication.
 *
 * The median of each is reported, end to end against the ceiling (target ≥ 0.5), and the
 * cluster's end to end against one Redis's. Rounds alternate the measurements so that a busy
 * moment of a shared machine does not fall on one of them only.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { startPostgres } from '../../test/support/postgres.ts';
import { PostgresHistoryStore } from '../../packages/server/src/history/postgres-history-store.ts';
import { createPool, PgNames } from '../../packages/server/src/postgres/connect.ts';
import { preparePostgres } from '../../packages/server/src/postgres/backends.ts';
import { startNatsCluster } from '../../test/support/nats.ts';
import { connect as connectNats } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JetStreamHistoryStore } from '../../packages/server/src/history/jetstream-history-store.ts';
import { NatsNames } from '../../packages/server/src/nats/names.ts';
import { num, type Comparison, type ScenarioContext, type ScenarioResult } from './types.ts';

type Topology = 'one' | 'cluster' | 'postgres' | 'nats';
const LABEL: Record<Topology, string> = { one: '1 Redis', cluster: '3-primary Redis Cluster', postgres: 'PostgreSQL', nats: '3-node NATS JetStream (R3)' };
const HISTORY = { size: 1000, ttl: '1h' };
const RETENTION = { size: 1000, ttlMs: 3_600_000, dedupWindowMs: 120_000 };

interface TopologyResult {
  /** The publish script, one call per publication, straight from a pipelined client (median). */
  ceiling: number;
  /** The store as the gateway uses it (batched per channel), straight from this process (median). */
  batched: number;
  /** Acknowledged publications per second through the gateway (median). */
  endToEnd: number;
  ratio: number;
  rounds: Array<{ ceiling: number; batched: number; endToEnd: number; refused: number }>;
  /** Channels per primary (by port) for the cluster: they spread over every shard. */
  channelsPerShard?: Record<string, number>;
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
  await sleep(1000);
  counting = true;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  counting = false;
  stop = true;
  await Promise.all(loops);
  return Math.round(done / elapsed);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The publish script straight from this process on a pipelined (auto-pipelining) ioredis
 * client: `batch: false` is one script call per publication (the Redis ceiling the target
 * is measured against); `batch: true` is the store as the gateway uses it (one call per
 * channel per event-loop turn).
 */
async function direct(url: string, ctx: ScenarioContext, channels: number, batch: boolean, topology: Topology): Promise<number> {
  if (topology === 'postgres') return directPostgres(url, ctx, channels);
  if (topology === 'nats') return directNats(url, ctx, channels, batch);
  const connection = await connectRedis({ url, name: 'bench:ceiling' });
  const store = new RedisHistoryStore({ connection, publish: true, batch, keys: new RedisKeys(`sbceil${batch ? 'b' : ''}:`) });
  try {
    const run = `${Date.now().toString(36)}`;
    return await rate(num(ctx, 'seconds', 5), num(ctx, 'concurrency', 512), (loop, n) => store.appendAndPublish!(
      channelName(loop % channels),
      { channel: '', data: { text: 'hello world', n }, ts: Date.now(), from: `p${loop}`, id: `${run}-${loop}-${n}` },
      { ...RETENTION, idempotencyKey: `${run}-${loop}-${n}`, publisher: `u:p${loop}` },
    ));
  } finally {
    await closeRedis(connection.redis);
  }
}

/**
 * PostgreSQL: the history store straight from this process (its appends are always
 * group-committed: every append waiting when a batch leaves goes in one statement), in a
 * schema of its own, `--concurrency` calls in flight. There is no unbatched form to compare.
 */
async function directPostgres(url: string, ctx: ScenarioContext, channels: number): Promise<number> {
  const schema = 'bench_ceiling';
  const names = new PgNames(await preparePostgres({ url, schema }));
  const store = new PostgresHistoryStore({ pool: createPool({ url, schema, name: 'bench:ceiling', max: 4 }), publish: names });
  try {
    const run = `${Date.now().toString(36)}`;
    return await rate(num(ctx, 'seconds', 5), num(ctx, 'concurrency', 512), (loop, n) => store.appendAndPublish!(
      channelName(loop % channels),
      { channel: '', data: { text: 'hello world', n }, ts: Date.now(), from: `p${loop}`, id: `${run}-${loop}-${n}` },
      { ...RETENTION, idempotencyKey: `${run}-${loop}-${n}`, publisher: `u:p${loop}` },
    ));
  } finally {
    await store.close();
  }
}

/**
 * NATS JetStream: without `store`, JetStream's own ceiling (a plain publish with a message id
 * per publication to a stream replicated 3 times, a subject per channel); with it, the
 * history store as the gateway uses it (conditional appends, one at a time per stream).
 */
async function directNats(url: string, ctx: ScenarioContext, channels: number, store: boolean): Promise<number> {
  const nc = await connectNats({ servers: url.split(',') });
  const run = `${Date.now().toString(36)}`;
  try {
    if (store) {
      const history = new JetStreamHistoryStore({ nc, names: new NatsNames(`sbceil${run}`), replicas: 3, maxPerChannel: 1000 });
      await history.prepare();
      return await rate(num(ctx, 'seconds', 5), num(ctx, 'concurrency', 512), (loop, n) => history.append(
        channelName(loop % channels),
        { channel: '', data: { text: 'hello world', n }, ts: Date.now(), from: `p${loop}`, id: `${run}-${loop}-${n}` },
        { ...RETENTION, idempotencyKey: `${run}-${loop}-${n}`, publisher: `u:p${loop}` },
      ));
    }
    const jsm = await jetstreamManager(nc);
    const stream = `ceil_${run}`;
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], num_replicas: 3, max_msgs_per_subject: 1000, duplicate_window: 120_000_000_000 });
    const js = jetstream(nc);
    try {
      return await rate(num(ctx, 'seconds', 5), num(ctx, 'concurrency', 512), (loop, n) => js.publish(
        `${stream}.c${loop % channels}`, JSON.stringify({ channel: channelName(loop % channels), data: { text: 'hello world', n }, ts: Date.now() }), { msgID: `${run}-${loop}-${n}` },
      ));
    } finally {
      await jsm.streams.delete(stream);
    }
  } finally {
    await nc.close();
  }
}

interface Tally { acked: number; refused: number; counting: boolean; running: boolean }

/** A publisher connection: while `tally.running`, keeps `queued` publish frames outstanding; counts acks. */
async function publisher(wsUrl: string, user: string, channel: string, queued: number, tally: Tally): Promise<{ start(): void; close(): Promise<void> }> {
  const ws = new WebSocket(`${wsUrl}?token=${await token(user, { channels: ['chat:*'], publish: ['chat:*'] })}`);
  let next = 0;
  const send = () => ws.send(`{"type":"publish","id":"${user}-${++next}","channel":"${channel}","data":{"text":"hello world","n":${next}}}`);
  let closed!: () => void;
  const done = new Promise<void>((r) => (closed = r));
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (raw) => {
      const f = JSON.parse(raw.toString());
      if (f.type === 'auth_success') resolve();
      else if (f.type === 'ack' || f.type === 'error') {
        if (tally.counting) {
          if (f.type === 'ack' && !f.duplicate) tally.acked++;
          else tally.refused++;
        }
        if (tally.running) send();
      } else if (f.type === 'ping') ws.send('{"type":"pong"}');
      else if (f.type === 'auth_failed') reject(new Error(`auth_failed ${f.reason}`));
    });
    ws.once('error', reject);
    ws.once('close', () => closed());
  });
  return {
    start: () => { for (let i = 0; i < queued; i++) send(); },
    close: async () => {
      ws.close();
      await done;
    },
  };
}

/** A real gateway process on `url` with `--connections` publishers connected to it. */
async function gatewayWithPublishers(url: string, ctx: ScenarioContext, channels: number, topology: Topology) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-cluster-'));
  writeFileSync(join(dir, 'c.json'), JSON.stringify({
    limits: { commandsPerSecond: 1_000_000, connectionsPerIpPerSecond: 100_000 },
    namespaces: { '': {}, chat: { history: HISTORY, allowSubscribe: true, allowPublish: true } },
  }));
  const profile = ctx.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${new URL('../results/prof/', import.meta.url).pathname}` } : undefined;
  const flag = topology === 'postgres' ? '--postgres' : topology === 'nats' ? '--nats' : '--redis';
  const gw = await startGatewayProcess({ args: ['--config', join(dir, 'c.json'), flag, url, '--jwt-secret', SECRET], startTimeoutMs: 120_000, ...(profile ? { env: profile } : {}) });
  const connections = num(ctx, 'connections', 512);
  const queued = Math.max(1, num(ctx, 'queued', 4));
  const tally: Tally = { acked: 0, refused: 0, counting: false, running: false };
  const pubs: Array<Awaited<ReturnType<typeof publisher>>> = [];
  try {
    for (let i = 0; i < connections; i += 32) {
      pubs.push(...(await Promise.all(Array.from({ length: Math.min(32, connections - i) }, (_, k) => publisher(gw.wsUrl, `p${i + k}`, channelName((i + k) % channels), queued, tally)))));
    }
  } catch (err) {
    await gw.kill();
    throw err;
  }
  return {
    /** Acknowledged publications per second over `--seconds`, after a 1 s warm-up. */
    async measure(): Promise<{ rate: number; refused: number; gatewayCpuUs: number; clientCpuUs: number }> {
      tally.running = true;
      for (const p of pubs) p.start();
      await sleep(1000);
      tally.acked = 0;
      tally.refused = 0;
      tally.counting = true;
      const t0 = performance.now();
      const cpu0 = [cpuMs(gw.proc.pid!), process.cpuUsage()] as const;
      await sleep(num(ctx, 'seconds', 5) * 1000);
      const elapsed = (performance.now() - t0) / 1000;
      const gatewayMs = cpuMs(gw.proc.pid!) - cpu0[0];
      const client = process.cpuUsage(cpu0[1]);
      const acked = Math.max(1, tally.acked);
      tally.counting = false;
      tally.running = false;
      await sleep(500); // the frames still queued are answered
      return {
        rate: Math.round(tally.acked / elapsed), refused: tally.refused,
        gatewayCpuUs: Math.round((gatewayMs * 1000) / acked), clientCpuUs: Math.round((client.user + client.system) / acked),
      };
    },
    async stop() {
      await Promise.all(pubs.map((p) => p.close()));
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CPU time (user + system, ms) a process has used so far (Linux /proc). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** A PostgreSQL server for the `postgres` topology, with a database of its own. */
async function startPostgresServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = await startPostgres();
  return { url: await server.database('switchboard'), stop: () => server.stop() };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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
  const rounds = Math.max(1, num(ctx, 'rounds', 3));
  const wanted = (typeof ctx.args.topologies === 'string' ? ctx.args.topologies : 'one,cluster,postgres,nats').split(',') as Topology[];
  for (const t of wanted) if (!(t in LABEL)) throw new Error(`--topologies: unknown "${t}" (one, cluster, postgres, nats)`);
  const results: Partial<Record<Topology, TopologyResult>> = {};
  for (const topology of wanted) {
    const label = LABEL[topology];
    ctx.log(`${label}: starting`);
    const server = topology === 'one' ? await startRedis() : topology === 'cluster' ? await startRedisCluster(3) : topology === 'nats' ? await startNatsCluster() : await startPostgresServer();
    try {
      const channelsPerShard = topology === 'cluster' ? await spread(server.url, channels) : undefined;
      if (channelsPerShard) ctx.log(`${label}: channels per primary ${JSON.stringify(channelsPerShard)}`);
      const gateway = await gatewayWithPublishers(server.url, ctx, channels, topology);
      const runs: Array<{ ceiling: number; batched: number; endToEnd: number; refused: number }> = [];
      try {
        // Rounds alternate the three measurements, so a busy moment of a shared machine
        // does not fall on one of them only; the median of each is reported.
        for (let r = 1; r <= rounds; r++) {
          // PostgreSQL has one form (always batched): measured once, it is both.
          const ceiling = await direct(server.url, ctx, channels, false, topology);
          const batched = topology === 'postgres' ? ceiling : await direct(server.url, ctx, channels, true, topology);
          const e = await gateway.measure();
          ctx.log(`${label} round ${r}/${rounds}: ceiling ${ceiling}/s, store batched ${batched}/s, end to end ${e.rate}/s (${e.refused} refused; CPU per publication: gateway ${e.gatewayCpuUs} µs, publishing clients ${e.clientCpuUs} µs)`);
          runs.push({ ceiling, batched, endToEnd: e.rate, refused: e.refused });
        }
      } finally {
        await gateway.stop();
      }
      const c = median(runs.map((x) => x.ceiling));
      const e = median(runs.map((x) => x.endToEnd));
      const ratio = Math.round((e / c) * 100) / 100;
      ctx.log(`${label}: ceiling ${c}/s, end to end ${e}/s: ${ratio}× the ceiling`);
      results[topology] = {
        ceiling: c, batched: median(runs.map((x) => x.batched)), endToEnd: e, ratio, rounds: runs,
        refused: runs.reduce((n, x) => n + x.refused, 0), ...(channelsPerShard ? { channelsPerShard } : {}),
      };
    } finally {
      await server.stop();
    }
  }
  const comparisons: Comparison[] = [];
  const notes: string[] = [];
  for (const t of wanted) {
    const r = results[t]!;
    comparisons.push(
      { metric: t === 'postgres' ? `${LABEL[t]}: ceiling (the history store, group-committed)` : t === 'nats' ? `${LABEL[t]}: JetStream ceiling (plain publishes with a message id)` : `${LABEL[t]}: Redis ceiling (one script per publication)`, unit: 'publications/s', higherIsBetter: true, values: { switchboard: r.ceiling } },
      { metric: `${LABEL[t]}: store direct, batched per channel`, unit: 'publications/s', higherIsBetter: true, values: { switchboard: r.batched } },
      { metric: `${LABEL[t]}: end to end (acked)`, unit: 'publications/s', higherIsBetter: true, values: { switchboard: r.endToEnd } },
      { metric: `${LABEL[t]}: end to end / ceiling`, unit: 'ratio', higherIsBetter: true, values: { switchboard: r.ratio } },
    );
    notes.push(`${LABEL[t]}: end to end is ${r.ratio}× the ceiling (target ≥ 0.5: ${r.ratio >= 0.5 ? 'met' : 'NOT met'})`);
  }
  if (results.one && results.cluster) {
    const x = Math.round((results.cluster.endToEnd / results.one.endToEnd) * 100) / 100;
    comparisons.push({ metric: '3 primaries / 1 Redis, end to end', unit: 'ratio', higherIsBetter: true, values: { switchboard: x } });
    notes.push(`3 primaries carry ${x}× one Redis end to end (ceilings: ${results.cluster.ceiling} vs ${results.one.ceiling} publications/s)`);
  }
  if (results.one && results.postgres) {
    const x = Math.round((results.postgres.endToEnd / results.one.endToEnd) * 100) / 100;
    comparisons.push({ metric: 'PostgreSQL / 1 Redis, end to end', unit: 'ratio', higherIsBetter: true, values: { switchboard: x } });
    notes.push(`PostgreSQL carries ${x}× one Redis end to end (${results.postgres.endToEnd} vs ${results.one.endToEnd} publications/s)`);
  }
  if (results.one && results.nats) {
    const x = Math.round((results.nats.endToEnd / results.one.endToEnd) * 100) / 100;
    comparisons.push({ metric: 'NATS JetStream / 1 Redis, end to end', unit: 'ratio', higherIsBetter: true, values: { switchboard: x } });
    notes.push(`NATS JetStream carries ${x}× one Redis end to end (${results.nats.endToEnd} vs ${results.one.endToEnd} publications/s)`);
  }
  return {
    scenario: 'cluster-publish',
    params: { rounds: num(ctx, 'rounds', 3), seconds: num(ctx, 'seconds', 5), connections: num(ctx, 'connections', 512), channels, queued: num(ctx, 'queued', 4), concurrency: num(ctx, 'concurrency', 512) },
    peers: { switchboard: results },
    comparisons,
    notes,
  };
}
