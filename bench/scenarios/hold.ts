import { LoadWorkers, ServerUnderTest, assertFdBudget, maxConnections, sleep, sum } from '../lib/cluster.ts';
import { rssOf, cpuMsOf } from '../lib/machine.ts';
import { slope } from '../lib/fit.ts';
import type { Peer } from '../load/clients.ts';
import { num, type ScenarioContext, type ScenarioResult } from './types.ts';

/**
 * `hold`: `--clients` (100,000) authenticated connections with heartbeats on, held for
 * `--duration` seconds (300); counts every disconnect the client did not ask for.
 * One server process must fit them under RLIMIT_NOFILE. Where the hard limit is lower
 * (and cannot be raised), `--workers N` runs Switchboard's real CLI as one gateway of N
 * processes (`serve --workers N --redis`, sharing one port; `auto`: as few as fit), and
 * `--servers N` spreads clients over N independent single-process servers (any peer).
 */
export async function hold(ctx: ScenarioContext): Promise<ScenarioResult> {
  const clients = num(ctx, 'clients', 100_000);
  const durationMs = num(ctx, 'duration', 300) * 1000;
  // Connection attempts in flight per load worker: paced, so the connect phase does not starve heartbeats.
  const concurrency = num(ctx, 'concurrency', 200);
  const notes: string[] = [];
  const fit = maxConnections();
  const gwWorkers = ctx.args.workers === 'auto' ? Math.ceil((clients * 1.1) / fit) : num(ctx, 'workers', 0);
  const servers = gwWorkers > 0 ? 1 : ctx.args.servers === 'auto' ? Math.ceil(clients / fit) : num(ctx, 'servers', 1);
  const perServer = Math.ceil(clients / servers);
  if (gwWorkers > 0) {
    if (ctx.peers.some((p) => p !== 'switchboard')) throw new Error('--workers is Switchboard\'s multi-process mode; use --servers for the peers');
    assertFdBudget(Math.ceil(clients / gwWorkers));
    notes.push(`one Switchboard gateway of ${gwWorkers} processes (switchboard serve --workers ${gwWorkers} --redis, one port): RLIMIT_NOFILE here allows ${fit} connections per process (hard limit, not raisable without CAP_SYS_RESOURCE)`);
  } else assertFdBudget(perServer);
  if (servers > 1) notes.push(`${clients} connections over ${servers} gateway processes of ${perServer} each: RLIMIT_NOFILE here allows ${fit} per process (hard limit, not raisable without CAP_SYS_RESOURCE)`);
  const out: Partial<Record<Peer, unknown>> = {};
  const unexpectedBy: Partial<Record<Peer, number>> = {};
  const rssPerConnEnd: Partial<Record<Peer, number>> = {};
  const growthPer5Min: Partial<Record<Peer, number>> = {};
  for (const peer of ctx.peers) {
    ctx.log(`hold: ${peer}, ${clients} connections over ${gwWorkers > 0 ? `one gateway of ${gwWorkers} processes` : `${servers} server process(es)`} for ${durationMs / 1000} s (heartbeat ${ctx.heartbeatMs} ms)`);
    const groups: Array<{ server: ServerUnderTest; load: LoadWorkers }> = [];
    try {
      let connected = 0;
      let emptyRss = 0;
      let connectUnexpected = 0;
      const t = Date.now();
      for (let i = 0; i < servers; i++) {
        const server = gwWorkers > 0 ? new ServerUnderTest(peer, ctx, { module: 'switchboard-workers', env: { BENCH_WORKERS: String(gwWorkers) } }) : new ServerUnderTest(peer, ctx);
        await server.start();
        emptyRss += gwWorkers > 0 ? (await server.mem()).rss : rssOf(server.child.pid);
        const load = new LoadWorkers(Math.min(perServer, clients - i * perServer), 1);
        groups.push({ server, load });
        const c = await load.connect({ peer, base: server.base, rule: { kind: 'personal' }, reconnect: false, concurrency, timeoutMs: 600_000, offset: i * perServer });
        connected += c.ready;
        connectUnexpected += c.unexpected;
        ctx.log(`  ${peer} server ${i + 1}/${servers}: ${c.ready} ready in ${Math.round(c.ms)} ms (total ${connected})`);
      }
      const connectMs = Date.now() - t;
      const cpu0 = groups.map((g) => cpuMsOf(g.server.child.pid));
      const t0 = Date.now();
      const samples: Array<{ atSec: number; ready: number; unexpected: number; serverRss: number }> = [];
      let last = { ready: 0, unexpected: 0, closeCodes: {} as Record<string, number> };
      while (Date.now() - t0 < durationMs) {
        await sleep(Math.min(15_000, durationMs - (Date.now() - t0)));
        const ss = await Promise.all(groups.map((g) => g.load.stats()));
        last = { ready: sum(ss.map((s) => s.ready)), unexpected: sum(ss.map((s) => s.unexpected)), closeCodes: Object.assign({}, ...ss.map((s) => s.closeCodes)) };
        const rss = gwWorkers > 0 ? (await groups[0]!.server.mem()).rss : sum(groups.map((g) => rssOf(g.server.child.pid)));
        samples.push({ atSec: Math.round((Date.now() - t0) / 1000), ready: last.ready, unexpected: last.unexpected, serverRss: rss });
        ctx.log(`  ${peer} t+${samples.at(-1)!.atSec}s ready ${last.ready} unexpected ${last.unexpected} server RSS ${Math.round(rss / 2 ** 20)} MiB`);
      }
      const heldMs = Date.now() - t0;
      const memory = holdMemory(emptyRss, connected, samples);
      ctx.log(`  ${peer} RSS per connection ${memory.perConnStart} B at the start of the hold, ${memory.perConnEnd} B at the end; slope ${memory.slopeMiBPerMin} MiB/min (${memory.growthPercentPer5Min}% of the server's RSS per 5 min)`);
      rssPerConnEnd[peer] = memory.perConnEnd;
      growthPer5Min[peer] = memory.growthPercentPer5Min;
      const cpu = sum(groups.map((g, i) => cpuMsOf(g.server.child.pid) - cpu0[i]!));
      unexpectedBy[peer] = last.unexpected;
      out[peer] = {
        servers, gatewayWorkers: gwWorkers || undefined, connected, connectMs, connectUnexpected, heldSec: Math.round(heldMs / 1000), readyAtEnd: last.ready,
        unexpectedDisconnects: last.unexpected, closeCodes: last.closeCodes,
        serverCpuCores: Math.round((cpu / heldMs) * 100) / 100, emptyRss, memory, samples,
      };
    } finally {
      for (const g of groups) {
        await g.load.close();
        await g.server.stop();
      }
    }
  }
  return {
    scenario: 'hold',
    params: { clients, durationMs, heartbeatMs: ctx.heartbeatMs, servers, gatewayWorkers: gwWorkers, concurrency },
    peers: out,
    comparisons: [
      { metric: `unexpected disconnects, ${clients} connections for ${durationMs / 1000} s`, unit: 'count', higherIsBetter: false, values: unexpectedBy },
      { metric: 'server RSS per connection at the end of the hold (over the empty server)', unit: 'bytes', higherIsBetter: false, values: rssPerConnEnd },
      { metric: 'server RSS growth while idle, least-squares slope (target within 2% per 5 min)', unit: '% per 5 min', higherIsBetter: false, values: growthPer5Min },
    ],
    notes,
  };
}

/**
 * Memory over the hold: RSS per connection (over the empty server's) at the first and last
 * sample, and the least-squares slope of the server's RSS over time, also as a share of its
 * RSS at the start per 5 minutes (issue 17: an idle gateway stays within 2%).
 */
function holdMemory(emptyRss: number, connected: number, samples: Array<{ atSec: number; serverRss: number }>) {
  const first = samples[0]?.serverRss ?? emptyRss;
  const last = samples.at(-1)?.serverRss ?? emptyRss;
  const perSec = slope(samples.map((s) => [s.atSec, s.serverRss]));
  const perConn = (rss: number) => (connected > 0 ? Math.round((rss - emptyRss) / connected) : 0);
  return {
    perConnStart: perConn(first),
    perConnEnd: perConn(last),
    slopeMiBPerMin: Math.round(((perSec * 60) / 2 ** 20) * 100) / 100,
    growthPercentPer5Min: Math.round(((perSec * 300) / first) * 10000) / 100,
  };
}
