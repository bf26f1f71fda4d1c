import { LoadWorkers, ServerUnderTest, assertFdBudget, maxConnections, sleep } from '../lib/cluster.ts';
import { rssOf } from '../lib/machine.ts';
import type { Peer } from '../load/clients.ts';
import { num, nums, type ScenarioContext, type ScenarioResult, type Comparison } from './types.ts';

interface IdlePoint {
  connections: number;
  /** Bytes per connection, after a full GC, over the server's own baseline. */
  rssPerConn: number;
  heapPerConn: number;
  /** Everything outside the JS heap that V8 tracks (Buffers, ArrayBuffers). */
  externalPerConn: number;
  rssBytes: number;
  unexpected: number;
}

/**
 * `idle`: memory per idle connection. Each client authenticates and subscribes to its
 * personal channel, then sits (heartbeats on). Server memory after a full GC, minus the
 * server's memory before any connection, divided by the count. Fresh server per size.
 */
export async function idle(ctx: ScenarioContext): Promise<ScenarioResult> {
  const wanted = nums(ctx, 'sizes', [10_000, 50_000]);
  const holdMs = num(ctx, 'hold', 5) * 1000;
  const limit = maxConnections();
  const notes: string[] = [];
  const sizes = wanted.map((n) => {
    if (n <= limit) return n;
    notes.push(`${n} connections do not fit RLIMIT_NOFILE here (max ${limit} per process): measured ${limit} instead; raise the limit to measure ${n} (see docs/benchmarks.md)`);
    return limit;
  }).filter((n, i, a) => a.indexOf(n) === i);
  const out: Partial<Record<Peer, IdlePoint[]>> = {};
  for (const peer of ctx.peers) {
    out[peer] = [];
    for (const n of sizes) {
      assertFdBudget(n);
      ctx.log(`idle: ${peer}, ${n} connections`);
      const server = new ServerUnderTest(peer, ctx);
      await server.start();
      const load = new LoadWorkers(n);
      try {
        await sleep(300);
        const base = await server.mem();
        const c = await load.connect({ peer, base: server.base, rule: { kind: 'personal' }, reconnect: false, concurrency: 1000, timeoutMs: 180_000 });
        if (c.ready < n) throw new Error(`${peer}: only ${c.ready}/${n} ready (${JSON.stringify(c.closeCodes)})`);
        await sleep(holdMs);
        const m = await server.mem();
        const rss = rssOf(server.child.pid);
        const s = await load.stats();
        const p: IdlePoint = {
          connections: n,
          rssPerConn: Math.round((m.rss - base.rss) / n),
          heapPerConn: Math.round((m.heapUsed - base.heapUsed) / n),
          externalPerConn: Math.round((m.external - base.external) / n),
          rssBytes: rss,
          unexpected: s.unexpected,
        };
        ctx.log(`  ${peer} ${n}: RSS ${p.rssPerConn} B/conn, heap ${p.heapPerConn} B/conn, external ${p.externalPerConn} B/conn`);
        out[peer]!.push(p);
      } finally {
        await load.close();
        await server.stop();
      }
    }
  }
  const comparisons: Comparison[] = [];
  for (const n of sizes) {
    const v = (f: (p: IdlePoint) => number) => Object.fromEntries(ctx.peers.map((peer) => [peer, (out[peer]!.find((p) => p.connections === n) ? f(out[peer]!.find((p) => p.connections === n)!) : null)]));
    comparisons.push({ metric: `RSS per idle connection at ${n}`, unit: 'bytes', higherIsBetter: false, values: v((p) => p.rssPerConn), targets: { ws: { op: '<=', ratio: 1.5 }, socketio: { op: '<', ratio: 1 } } });
    comparisons.push({ metric: `JS heap per idle connection at ${n}`, unit: 'bytes', higherIsBetter: false, values: v((p) => p.heapPerConn) });
  }
  return { scenario: 'idle', params: { sizes, wanted, holdMs }, peers: out, comparisons, notes };
}
