import { LoadWorkers, Publisher, ServerUnderTest, assertFdBudget, sleep } from '../lib/cluster.ts';
import { runStep, type Step } from '../lib/ramp.ts';
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
 * `fanout`: one channel, `--subscribers` clients (5,000), one publisher. All peers are up
 * at once (idle ones cost next to nothing) and take turns at each fixed rate of the ramp
 * (`--rates`, publications/s), so each rate is measured for every peer under the same
 * machine conditions (the machine may be shared). A peer leaves the ramp at its first rate
 * not sustained twice in a row, after one step halfway between; its best sustained step is its max.
 * Latency is compared at the highest ramp rate every peer sustained (or `--common-rate`).
 */
export async function fanout(ctx: ScenarioContext): Promise<ScenarioResult> {
  const subscribers = num(ctx, 'subscribers', 5000);
  const rates = nums(ctx, 'rates', [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
  const durationMs = num(ctx, 'step', 4) * 1000;
  const padding = num(ctx, 'padding', 64);
  const warmupMs = num(ctx, 'warmup', 2) * 1000;
  const forcedCommon = num(ctx, 'common-rate', 0);
  assertFdBudget(subscribers + 10);
  const channel = 'bench:fanout';
  const target = { kind: 'single' as const, channel, subscribers };
  const out: Partial<Record<Peer, PeerFanout>> = {};
  const live: Partial<Record<Peer, { server: ServerUnderTest; load: LoadWorkers; pub: Publisher }>> = {};
  const log = (peer: Peer, st: Step) => ctx.log(`  ${peer} ${st.rate}/s → ${st.deliveriesPerSec} deliveries/s p50 ${st.latency.p50} p99 ${st.latency.p99} max ${st.latency.max} ms, server ${st.serverCpu} cores ${st.serverCpuUsPerDelivery} µs/delivery, clients ${st.loadCpu} cores${st.sustained ? '' : ` ✗ ${st.reason}`}`);
  try {
    for (const peer of ctx.peers) {
      ctx.log(`fanout: starting ${peer} with ${subscribers} subscribers`);
      const server = new ServerUnderTest(peer, ctx);
      await server.start();
      const load = new LoadWorkers(subscribers);
      const pub = new Publisher();
      live[peer] = { server, load, pub };
      const c = await load.connect({ peer, base: server.base, rule: { kind: 'fanout', channel }, reconnect: false, concurrency: 500, timeoutMs: 120_000 });
      if (c.ready < subscribers) throw new Error(`${peer}: only ${c.ready}/${subscribers} subscribers ready (${JSON.stringify(c.closeCodes)})`);
      out[peer] = { connect: { ready: c.ready, ms: Math.round(c.ms) }, steps: [], maxSustained: null, atCommonRate: null };
      // Warm-up (JIT), not recorded.
      if (warmupMs > 0) await runStep(server, load, pub, { rate: rates[0]!, durationMs: warmupMs, target, padding });
    }
    const step = async (peer: Peer, rate: number) => {
      const { server, load, pub } = live[peer]!;
      const st = await runStep(server, load, pub, { rate, durationMs, target, padding });
      out[peer]!.steps.push(st);
      log(peer, st);
      if (st.sustained && (!out[peer]!.maxSustained || st.deliveriesPerSec > out[peer]!.maxSustained!.deliveriesPerSec)) out[peer]!.maxSustained = st;
      await sleep(300);
      return st;
    };
    const climbing = new Set(ctx.peers);
    let prev = 0;
    for (const rate of rates) {
      if (climbing.size === 0) break;
      ctx.log(`fanout: ${rate} publications/s (${rate * subscribers} deliveries/s)`);
      for (const peer of ctx.peers) {
        if (!climbing.has(peer)) continue;
        let st = await step(peer, rate);
        if (!st.sustained) {
          // The machine may be shared: a rate fails only when it fails twice.
          await sleep(2000);
          st = await step(peer, rate);
        }
        if (st.sustained) continue;
        climbing.delete(peer);
        const mid = Math.round((prev + rate) / 2);
        if (prev > 0 && mid > prev && mid < rate) {
          await sleep(1500);
          await step(peer, mid);
        }
      }
      prev = rate;
    }
    const sustainedBy = (p: Peer) => new Set(out[p]!.steps.filter((s) => s.sustained).map((s) => s.rate));
    const common = forcedCommon || [...rates].reverse().find((r) => ctx.peers.every((p) => sustainedBy(p).has(r))) || rates[0]!;
    for (const peer of ctx.peers) {
      out[peer]!.atCommonRate = out[peer]!.steps.find((s) => s.rate === common) ?? null;
      if (!out[peer]!.atCommonRate) out[peer]!.atCommonRate = await step(peer, common);
    }
    return result(ctx, out, { subscribers, rates, stepMs: durationMs, warmupMs, padding, commonRate: common });
  } finally {
    for (const peer of ctx.peers) {
      const l = live[peer];
      if (!l) continue;
      await l.pub.close();
      await l.load.close();
      await l.server.stop();
    }
  }
}

function result(ctx: ScenarioContext, out: Partial<Record<Peer, PeerFanout>>, params: { subscribers: number; commonRate: number } & Record<string, unknown>): ScenarioResult {
  const common = params.commonRate;
  const val = (f: (p: PeerFanout) => number | undefined) => Object.fromEntries(ctx.peers.map((p) => [p, f(out[p]!) ?? null]));
  return {
    scenario: 'fanout',
    params,
    peers: out,
    comparisons: [
      { metric: 'max sustained deliveries/s', unit: 'msg/s', higherIsBetter: true, values: val((p) => p.maxSustained?.deliveriesPerSec), targets: { socketio: { op: '>=', ratio: 5 }, ws: { op: '>=', ratio: 3 } } },
      { metric: `p50 latency at ${common} pub/s (${common * params.subscribers} deliveries/s)`, unit: 'ms', higherIsBetter: false, values: val((p) => p.atCommonRate?.latency.p50) },
      { metric: `p99 latency at ${common} pub/s`, unit: 'ms', higherIsBetter: false, values: val((p) => p.atCommonRate?.latency.p99), targets: { socketio: { op: '<=', ratio: 0.5 } } },
      { metric: `max latency at ${common} pub/s`, unit: 'ms', higherIsBetter: false, values: val((p) => p.atCommonRate?.latency.max) },
      { metric: `server CPU at ${common} pub/s`, unit: 'cores', higherIsBetter: false, values: val((p) => p.atCommonRate?.serverCpu) },
      { metric: `server CPU per delivery at ${common} pub/s`, unit: 'µs', higherIsBetter: false, values: val((p) => p.atCommonRate?.serverCpuUsPerDelivery) },
    ],
    notes: ['a step is sustained when >= 99% of deliveries arrive, p99 <= 1000 ms and no client is disconnected; peers take turns at each rate', ...deflateNotes(out, common), ...pusherNotes(out, common)],
  };
}

/**
 * `switchboard-pusher`: server CPU per delivery with Pusher protocol 7 subscribers ÷ native
 * ones, at every rate both ran (the target, issue 27: at most 1.2x at the common rate).
 */
function pusherNotes(out: Partial<Record<Peer, PeerFanout>>, common: number): string[] {
  return cpuRatios(out.switchboard, out['switchboard-pusher'], common, 'Pusher protocol 7', 'native', 1.2);
}

/** Server CPU per delivery of `b` ÷ `a` at each rate both ran; `target` at the common rate. */
function cpuRatios(a: PeerFanout | undefined, b: PeerFanout | undefined, common: number, bName: string, aName: string, target: number): string[] {
  if (!a || !b) return [];
  const at = (p: PeerFanout, rate: number) => p.steps.filter((s) => s.rate === rate).map((s) => s.serverCpuUsPerDelivery);
  const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  const lines: string[] = [];
  for (const rate of [...new Set(a.steps.map((s) => s.rate))].sort((x, y) => x - y)) {
    const xa = at(a, rate);
    const xb = at(b, rate);
    if (xa.length === 0 || xb.length === 0) continue;
    const r = mean(xb) / mean(xa);
    const t = rate === common ? ` (target <= ${target}x ${r <= target ? '✓' : '✗'})` : '';
    lines.push(`${bName} at ${rate} pub/s: server CPU per delivery ${mean(xb).toFixed(2)} µs ÷ ${aName} ${mean(xa).toFixed(2)} µs = ${r.toFixed(2)}x${t}`);
  }
  return lines;
}

/**
 * `--deflate`: server CPU per delivery of Switchboard with permessage-deflate ÷ plain, at the
 * common rate (the target, issue 17: at most 1.5x) and at every other rate both ran.
 */
function deflateNotes(out: Partial<Record<Peer, PeerFanout>>, common: number): string[] {
  return cpuRatios(out.switchboard, out['switchboard-deflate'], common, 'permessage-deflate', 'plain', 1.5);
}
