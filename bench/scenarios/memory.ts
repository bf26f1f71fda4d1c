import { LoadWorkers, ServerUnderTest, assertFdBudget, sleep } from '../lib/cluster.ts';
import type { Peer } from '../load/clients.ts';
import { slope } from '../lib/fit.ts';
import { num, type Comparison, type ScenarioContext, type ScenarioResult } from './types.ts';

/**
 * V8 grows its young generation (up to 2 × 16 MiB here) while a connect storm allocates,
 * and keeps it: at a few thousand connections that one-time growth, the same for every
 * server, would be counted as ~10 KB "per connection". Every server under test starts with
 * it at full size instead, and churns garbage through it before its baseline (so its pages
 * are resident on both sides of the measurement): the difference is what the connections hold.
 */
const PINNED_YOUNG_GENERATION = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

/**
 * `--young`: `pinned` (the default) as above; `default`: no flag for any server (V8 sizes the
 * young generation by the machine, what a process started plainly gets); `serve`: each server
 * as its own command starts it: Switchboard with the `--max-semi-space-size=16` that
 * `switchboard serve` adds (packages/server/src/workers.ts), bare `ws` with none.
 */
function youngFlags(mode: string, peer: string): string[] {
  if (mode === 'pinned') return PINNED_YOUNG_GENERATION;
  if (mode === 'default') return [];
  if (mode === 'serve') return peer.startsWith('switchboard') ? ['--max-semi-space-size=16'] : [];
  throw new Error(`--young: expected pinned, default or serve, got ${JSON.stringify(mode)}`);
}

interface MemoryRound {
  /** Bytes per connection: least-squares slope of RSS (after a full GC) over connections, from the second slice of eight on. */
  rssPerConn: number;
  /** RSS growth over the empty server's, per connection (includes one-time costs: compiled code, caches). */
  rssPerConnFromStart: number;
  heapPerConn: number;
  externalPerConn: number;
  ready: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * `memory`: RSS per idle authenticated connection, every peer side by side in one run.
 * Each round starts all servers at once, takes their baseline, then connects
 * `--connections` clients (authenticated, subscribed to a personal channel, heartbeats on)
 * to each in eight alternating slices (so machine noise falls on all alike). Memory is
 * measured after a full GC after every slice: the cost per connection is the least-squares
 * slope of memory over connections from the second slice on (one-time costs of the first
 * connections, compiled code, caches, bytecode flushed after start, fall in the first; a
 * slope over seven readings is steadier than a difference of two, which V8's page-sized
 * heap growth and the allocator's reuse of start-up memory can swing either way). The growth
 * over the empty server is printed beside it. The median over `--rounds` is reported.
 */
export async function memory(ctx: ScenarioContext): Promise<ScenarioResult> {
  const n = num(ctx, 'connections', 3000);
  const rounds = Math.max(1, num(ctx, 'rounds', 3));
  const holdMs = num(ctx, 'hold', 3) * 1000;
  const slices = 8;
  const young = typeof ctx.args.young === 'string' ? ctx.args.young : 'pinned';
  // `--fit-from N`: fit the slope over the readings from N connections on (default: from the second slice).
  const fitFrom = num(ctx, 'fit-from', 0);
  assertFdBudget(n * ctx.peers.length);
  const out: Partial<Record<Peer, MemoryRound[]>> = {};
  for (let r = 1; r <= rounds; r++) {
    ctx.log(`memory: round ${r}/${rounds}, ${n} connections to each of ${ctx.peers.join(', ')}`);
    const live = ctx.peers.map((peer) => ({ peer, server: new ServerUnderTest(peer, ctx, { execArgv: youngFlags(young, peer) }) }));
    const loads: LoadWorkers[] = [];
    try {
      await Promise.all(live.map((l) => l.server.start()));
      for (const l of live) await l.server.warm();
      await sleep(500);
      const base = await Promise.all(live.map((l) => l.server.mem()));
      const ready = live.map(() => 0);
      const per = Math.ceil(n / slices);
      // Memory after each slice: [connections, reading] per server.
      const points: Array<Array<{ conns: number; m: Awaited<ReturnType<ServerUnderTest['mem']>> }>> = live.map(() => []);
      for (let s = 0; s < slices; s++) {
        for (const [i, l] of live.entries()) {
          const count = Math.min(per, n - s * per);
          const load = new LoadWorkers(count, 1);
          loads.push(load);
          const c = await load.connect({ peer: l.peer, base: l.server.base, rule: { kind: 'personal' }, reconnect: false, concurrency: 100, timeoutMs: 180_000, offset: s * per });
          if (c.ready < count) throw new Error(`${l.peer}: only ${c.ready}/${count} ready (${JSON.stringify(c.closeCodes)})`);
          ready[i]! += c.ready;
        }
        await sleep(s === slices - 1 ? holdMs : 500);
        const m = await Promise.all(live.map((l) => l.server.mem()));
        for (const i of live.keys()) points[i]!.push({ conns: ready[i]!, m: m[i]! });
      }
      for (const [i, l] of live.entries()) {
        // The first slice carries one-time costs (compiled code, caches): the slope is fitted over the others.
        const fit = fitFrom > 0 ? points[i]!.filter((q) => q.conns >= fitFrom) : points[i]!.slice(1);
        const after = points[i]!.at(-1)!.m;
        const p: MemoryRound = {
          rssPerConn: Math.round(slope(fit.map((q) => [q.conns, q.m.rss]))),
          heapPerConn: Math.round(slope(fit.map((q) => [q.conns, q.m.heapUsed]))),
          externalPerConn: Math.round(slope(fit.map((q) => [q.conns, q.m.external]))),
          rssPerConnFromStart: Math.round((after.rss - base[i]!.rss) / ready[i]!),
          ready: ready[i]!,
        };
        (out[l.peer] ??= []).push(p);
        ctx.log(`  ${l.peer}: RSS ${p.rssPerConn} B/conn (${p.rssPerConnFromStart} over the empty server), JS heap ${p.heapPerConn} B/conn, external ${p.externalPerConn} B/conn`);
      }
    } finally {
      await Promise.all(loads.map((load) => load.close()));
      await Promise.all(live.map((l) => l.server.stop().catch(() => {})));
    }
  }
  const value = (f: (p: MemoryRound) => number) => Object.fromEntries(ctx.peers.map((p) => [p, median(out[p]!.map(f))]));
  const comparisons: Comparison[] = [
    { metric: `RSS per idle authenticated connection, ${n} connections (median of ${rounds})`, unit: 'bytes', higherIsBetter: false, values: value((p) => p.rssPerConn), targets: { ws: { op: '<=', ratio: 1.25 } } },
    { metric: `RSS growth over the empty server per connection (median of ${rounds})`, unit: 'bytes', higherIsBetter: false, values: value((p) => p.rssPerConnFromStart) },
    { metric: `JS heap per idle connection (median of ${rounds})`, unit: 'bytes', higherIsBetter: false, values: value((p) => p.heapPerConn) },
  ];
  const notes = [young === 'pinned'
    ? `every server runs with ${PINNED_YOUNG_GENERATION.join(' ')} (young generation at full size from the start; see bench/scenarios/memory.ts)`
    : `--young ${young}: ${ctx.peers.map((p) => `${p} ${youngFlags(young, p).join(' ') || '(no flag)'}`).join(', ')}`];
  return { scenario: 'memory', params: { connections: n, rounds, holdMs, young, fitFrom }, peers: out, comparisons, notes };
}
