import { LoadWorkers, Publisher, ServerUnderTest, assertFdBudget, sleep } from '../lib/cluster.ts';
import { ramp, runStep, type Step } from '../lib/ramp.ts';
import type { Peer } from '../load/clients.ts';
import { num, nums, type ScenarioContext, type ScenarioResult } from './types.ts';

interface PeerFanout {
  connect: { ready: number; ms: number };
  steps: Step[];
  maxSustained: Step | null;
  /** Steps at the common comparison rate (same rate for every peer). */
  atCommonRate: Step | null;
}

/**
 * `fanout`: one channel, `--subscribers` clients (5,000), one publisher. Fixed rates up a
 * ramp (`--rates`, publications/s) until one is not sustained, then a step between: the
 * best sustained step is the peer's max. Then every peer runs `--common-rate` (the highest
 * rate all sustained, unless given) for the latency comparison.
 */
export async function fanout(ctx: ScenarioContext): Promise<ScenarioResult> {
  const subscribers = num(ctx, 'subscribers', 5000);
  const rates = nums(ctx, 'rates', [4, 8, 16, 32, 64, 128, 256, 512, 1024]);
  const durationMs = num(ctx, 'step', 4) * 1000;
  const padding = num(ctx, 'padding', 64);
  const warmupMs = num(ctx, 'warmup', 2) * 1000;
  assertFdBudget(subscribers + 10);
  const channel = 'bench:fanout';
  const target = { kind: 'single' as const, channel, subscribers };
  const out: Partial<Record<Peer, PeerFanout>> = {};
  const live: Partial<Record<Peer, { server: ServerUnderTest; load: LoadWorkers; pub: Publisher }>> = {};

  const open = async (peer: Peer) => {
    const server = new ServerUnderTest(peer, ctx);
    await server.start();
    const load = new LoadWorkers(subscribers);
    const c = await load.connect({ peer, base: server.base, rule: { kind: 'fanout', channel }, reconnect: false, concurrency: 500, timeoutMs: 120_000 });
    if (c.ready < subscribers) throw new Error(`${peer}: only ${c.ready}/${subscribers} subscribers ready (${JSON.stringify(c.closeCodes)})`);
    const pub = new Publisher();
    await sleep(500);
    return { server, load, pub, c };
  };
  const shut = async (peer: Peer) => {
    const l = live[peer]!;
    await l.pub.close();
    await l.load.close();
    await l.server.stop();
    delete live[peer];
  };

  for (const peer of ctx.peers) {
    ctx.log(`fanout: ${peer}, ${subscribers} subscribers`);
    const { server, load, pub, c } = await open(peer);
    live[peer] = { server, load, pub };
    // Warm-up (JIT) at the lowest rate, not recorded.
    if (warmupMs > 0) await runStep(server, load, pub, { rate: rates[0]!, durationMs: warmupMs, target, padding });
    const r = await ramp(server, load, pub, { rates, durationMs, target, padding, log: ctx.log });
    out[peer] = { connect: { ready: c.ready, ms: Math.round(c.ms) }, steps: r.steps, maxSustained: r.best ?? null, atCommonRate: null };
    await shut(peer);
  }

  // The comparison rate: the highest ramp rate every peer sustained.
  const sustainedBy = (p: Peer) => new Set(out[p]!.steps.filter((s) => s.sustained).map((s) => s.rate));
  const common = num(ctx, 'common-rate', 0) || [...rates].reverse().find((r) => ctx.peers.every((p) => sustainedBy(p).has(r))) || rates[0]!;
  for (const peer of ctx.peers) {
    ctx.log(`fanout: ${peer} at the common rate ${common}/s`);
    const { server, load, pub } = await open(peer);
    live[peer] = { server, load, pub };
    if (warmupMs > 0) await runStep(server, load, pub, { rate: common, durationMs: warmupMs, target, padding });
    const st = await runStep(server, load, pub, { rate: common, durationMs: durationMs * 2, target, padding });
    ctx.log(`  ${peer} ${common}/s → p50 ${st.latency.p50} p95 ${st.latency.p95} p99 ${st.latency.p99} max ${st.latency.max} ms, server ${st.serverCpuUsPerDelivery} µs/delivery`);
    out[peer]!.atCommonRate = st;
    await shut(peer);
  }

  const val = (f: (p: PeerFanout) => number | undefined) => Object.fromEntries(ctx.peers.map((p) => [p, f(out[p]!) ?? null]));
  return {
    scenario: 'fanout',
    params: { subscribers, rates, stepMs: durationMs, warmupMs, padding, commonRate: common },
    peers: out,
    comparisons: [
      { metric: 'max sustained deliveries/s', unit: 'msg/s', higherIsBetter: true, values: val((p) => p.maxSustained?.deliveriesPerSec), targets: { socketio: { op: '>=', ratio: 5 }, ws: { op: '>=', ratio: 3 } } },
      { metric: `p50 latency at ${common} pub/s (${common * subscribers} deliveries/s)`, unit: 'ms', higherIsBetter: false, values: val((p) => p.atCommonRate?.latency.p50) },
      { metric: `p99 latency at ${common} pub/s`, unit: 'ms', higherIsBetter: false, values: val((p) => p.atCommonRate?.latency.p99), targets: { socketio: { op: '<=', ratio: 0.5 } } },
      { metric: `max latency at ${common} pub/s`, unit: 'ms', higherIsBetter: false, values: val((p) => p.atCommonRate?.latency.max) },
      { metric: `server CPU at ${common} pub/s`, unit: 'cores', higherIsBetter: false, values: val((p) => p.atCommonRate?.serverCpu) },
      { metric: `server CPU per delivery at ${common} pub/s`, unit: 'µs', higherIsBetter: false, values: val((p) => p.atCommonRate?.serverCpuUsPerDelivery) },
    ],
    notes: [`a step is sustained when >= 99% of deliveries arrive, p99 <= 500 ms and no client is disconnected`],
  };
}
