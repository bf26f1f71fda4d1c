import { LoadWorkers, ServerUnderTest, assertFdBudget, maxConnections, sleep } from '../lib/cluster.ts';
import { rssOf, cpuMsOf } from '../lib/machine.ts';
import type { Peer } from '../load/clients.ts';
import { num, type ScenarioContext, type ScenarioResult } from './types.ts';

/**
 * `hold`: `--clients` (100,000) authenticated connections with heartbeats on, held for
 * `--duration` seconds (300); counts every disconnect the client did not ask for.
 * Refuses (with what to do) when the open-file limit cannot hold that many; `--clamp`
 * holds as many as the limit allows instead.
 */
export async function hold(ctx: ScenarioContext): Promise<ScenarioResult> {
  let clients = num(ctx, 'clients', 100_000);
  const durationMs = num(ctx, 'duration', 300) * 1000;
  const notes: string[] = [];
  if (ctx.args.clamp && clients > maxConnections()) {
    notes.push(`asked for ${clients} connections; RLIMIT_NOFILE allows ${maxConnections()} per process here, so ${maxConnections()} were held`);
    clients = maxConnections();
  }
  assertFdBudget(clients);
  const out: Partial<Record<Peer, unknown>> = {};
  const unexpectedBy: Partial<Record<Peer, number>> = {};
  for (const peer of ctx.peers) {
    ctx.log(`hold: ${peer}, ${clients} connections for ${durationMs / 1000} s (heartbeat ${ctx.heartbeatMs} ms)`);
    const server = new ServerUnderTest(peer, ctx);
    await server.start();
    const load = new LoadWorkers(clients);
    try {
      const c = await load.connect({ peer, base: server.base, rule: { kind: 'personal' }, reconnect: false, concurrency: 1000, timeoutMs: 300_000 });
      ctx.log(`  ${peer}: ${c.ready}/${clients} ready in ${Math.round(c.ms)} ms`);
      const cpu0 = cpuMsOf(server.child.pid);
      const t0 = Date.now();
      const samples: Array<{ atSec: number; ready: number; unexpected: number; serverRss: number }> = [];
      while (Date.now() - t0 < durationMs) {
        await sleep(Math.min(10_000, durationMs - (Date.now() - t0)));
        const s = await load.stats();
        samples.push({ atSec: Math.round((Date.now() - t0) / 1000), ready: s.ready, unexpected: s.unexpected, serverRss: rssOf(server.child.pid) });
        ctx.log(`  ${peer} t+${samples.at(-1)!.atSec}s ready ${s.ready} unexpected ${s.unexpected} server RSS ${Math.round(samples.at(-1)!.serverRss / 2 ** 20)} MiB`);
      }
      const s = await load.stats();
      const mem = await server.mem();
      unexpectedBy[peer] = c.unexpected + s.unexpected;
      out[peer] = {
        connected: c.ready, connectMs: Math.round(c.ms), heldSec: durationMs / 1000, unexpectedDisconnects: s.unexpected, closeCodes: s.closeCodes,
        serverCpuCores: Math.round(((cpuMsOf(server.child.pid) - cpu0) / (Date.now() - t0)) * 100) / 100,
        serverRss: mem.rss, serverHeap: mem.heapUsed, samples,
      };
    } finally {
      await load.close();
      await server.stop();
    }
  }
  return {
    scenario: 'hold',
    params: { clients, durationMs, heartbeatMs: ctx.heartbeatMs },
    peers: out,
    comparisons: [
      { metric: `unexpected disconnects, ${clients} connections for ${durationMs / 1000} s`, unit: 'count', higherIsBetter: false, values: unexpectedBy },
    ],
    notes,
  };
}
