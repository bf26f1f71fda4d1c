import { LoadWorkers, ServerUnderTest, assertFdBudget, sleep } from '../lib/cluster.ts';
import type { LatencySummary } from '../lib/histogram.ts';
import { Histogram } from '../lib/histogram.ts';
import type { Peer } from '../load/clients.ts';
import { num, type ScenarioContext, type ScenarioResult } from './types.ts';

interface StormResult {
  /** ms from the first connection attempt until every client was authenticated and subscribed. */
  allReadyMs: number;
  readyTimes: LatencySummary;
  /** ms from the restart signal until every client was back (authenticated and subscribed). */
  recoveredMs: number | null;
  recoveredReady: number;
  recoverTimes: LatencySummary;
  /** ms from the restart signal until the new server listened (clients retrying meanwhile are refused). */
  serverDownMs: number;
}

/**
 * `storm`: `--clients` (10,000) connect at once (no pacing); time until all are
 * authenticated and subscribed (personal channel + a 10-member group). Then the server is
 * restarted (SIGTERM: each server's own graceful shutdown; a new process on the same port)
 * and every client reconnects (jittered 0.5–1.5 s; Switchboard clients wait the
 * `reconnectAfterMs` the server gave them); time until all are back.
 */
export async function storm(ctx: ScenarioContext): Promise<ScenarioResult> {
  const clients = num(ctx, 'clients', 10_000);
  assertFdBudget(clients + 10);
  const out: Partial<Record<Peer, StormResult>> = {};
  for (const peer of ctx.peers) {
    ctx.log(`storm: ${peer}, ${clients} clients at once`);
    const server = new ServerUnderTest(peer, ctx);
    await server.start();
    const load = new LoadWorkers(clients);
    try {
      const c = await load.connect({ peer, base: server.base, rule: { kind: 'rooms', groupSize: 10 }, reconnect: true, concurrency: clients, timeoutMs: 120_000 });
      if (c.ready < clients) throw new Error(`${peer}: only ${c.ready}/${clients} ready within 120 s`);
      ctx.log(`  ${peer}: all ${clients} ready in ${Math.round(c.ms)} ms (p50 ${c.readyTimes.p50} p99 ${c.readyTimes.p99} ms; closes on the way ${JSON.stringify(c.closeCodes)})`);
      await sleep(1000);
      await Promise.all(load.workers.map((w) => w.call('markRestart')));
      const recovered = Promise.all(load.workers.map((w) => w.call('waitRecovered', { timeoutMs: 120_000 }, 130_000)));
      const down = performance.now();
      await server.stop();
      await server.start();
      const upAfterMs = performance.now() - down;
      const rs = await recovered;
      const h = new Histogram();
      for (const r of rs) h.addSerialized(r.readyTimes);
      const ms = rs.every((r) => r.ms !== null) ? Math.max(...rs.map((r) => r.ms as number)) : null;
      const ready = rs.reduce((a, r) => a + r.ready, 0);
      ctx.log(`  ${peer}: after restart ${ready}/${clients} back in ${ms === null ? 'n/a' : Math.round(ms)} ms (server down ${Math.round(upAfterMs)} ms)`);
      out[peer] = { allReadyMs: Math.round(c.ms), readyTimes: c.readyTimes, recoveredMs: ms === null ? null : Math.round(ms), recoveredReady: ready, recoverTimes: h.summaryMs(), serverDownMs: Math.round(upAfterMs) };
    } finally {
      await load.close();
      await server.stop();
    }
  }
  const val = (f: (r: StormResult) => number | null) => Object.fromEntries(ctx.peers.map((p) => [p, f(out[p]!)]));
  return {
    scenario: 'storm',
    params: { clients },
    peers: out,
    comparisons: [
      { metric: `time until ${clients} connected, authenticated, subscribed`, unit: 'ms', higherIsBetter: false, values: val((r) => r.allReadyMs) },
      { metric: 'p99 time to ready per client', unit: 'ms', higherIsBetter: false, values: val((r) => r.readyTimes.p99) },
      { metric: 'time until all recovered after a restart', unit: 'ms', higherIsBetter: false, values: val((r) => r.recoveredMs) },
      { metric: 'of which the server was down (stop + start)', unit: 'ms', higherIsBetter: false, values: val((r) => r.serverDownMs) },
      { metric: 'all recovered, counted from the new server listening', unit: 'ms', higherIsBetter: false, values: val((r) => (r.recoveredMs === null ? null : r.recoveredMs - r.serverDownMs)) },
    ],
    notes: ['recovery includes the reconnect delay: 0.5–1.5 s jitter for every peer (Switchboard: shutdown.reconnectSpreadMs 1500)'],
  };
}
