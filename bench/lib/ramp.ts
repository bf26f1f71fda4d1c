import { cpuMsOf } from './machine.ts';
import type { LatencySummary } from './histogram.ts';
import { sleep, type LoadWorkers, type Publisher, type ServerUnderTest } from './cluster.ts';
import type { PublishTarget } from '../load/channels.ts';

/** One fixed-rate step of a publishing scenario. */
export interface Step {
  /** Publications per second asked of the publisher. */
  rate: number;
  published: number;
  expected: number;
  delivered: number;
  /** Deliveries per second over the publishing time. */
  deliveriesPerSec: number;
  latency: LatencySummary;
  /** Server CPU use during the step, in cores (1.0 = one core busy). */
  serverCpu: number;
  /** Server CPU time per delivered message, µs: the cost that does not depend on how busy the machine is. */
  serverCpuUsPerDelivery: number;
  /** CPU of the load workers (receiving clients) during the step, in cores: the rig's own share. */
  loadCpu: number;
  unexpected: number;
  sustained: boolean;
  /** Why it was not sustained. */
  reason?: string;
}

/** A step is sustained when nearly everything arrives, p99 stays under this, and nobody was cut off. */
const SUSTAIN = { minDeliveredShare: 0.99, maxP99Ms: 1000 };

/** Runs one step: reset counters, publish for `durationMs`, wait for stragglers (bounded), collect. */
export async function runStep(server: ServerUnderTest, load: LoadWorkers, pub: Publisher, o: { rate: number; durationMs: number; target: PublishTarget; padding: number }): Promise<Step> {
  await load.reset();
  const before = await load.stats();
  const cpu0 = cpuMsOf(server.child.pid);
  const t0 = performance.now();
  const r = await pub.run({ peer: server.peer, base: server.base, rate: o.rate, durationMs: o.durationMs, target: o.target, padding: o.padding });
  const cpu1 = cpuMsOf(server.child.pid);
  const t1 = performance.now();
  const mid = await load.stats();
  // Stragglers: wait until everything arrived or nothing moved for 1 s (at most 10 s).
  let s = await load.stats();
  const deadline = Date.now() + 10_000;
  let last = s.delivered;
  let still = Date.now();
  while (s.delivered < r.expected && Date.now() < deadline && Date.now() - still < 1000) {
    await sleep(100);
    s = await load.stats();
    if (s.delivered !== last) { last = s.delivered; still = Date.now(); }
  }
  const latency = s.hist.summaryMs();
  const unexpected = s.unexpected - before.unexpected;
  let reason: string | undefined;
  if (unexpected > 0) reason = `${unexpected} clients disconnected (${JSON.stringify(s.closeCodes)})`;
  else if (s.delivered < r.expected * SUSTAIN.minDeliveredShare) reason = `delivered ${s.delivered} of ${r.expected}`;
  else if (latency.p99 > SUSTAIN.maxP99Ms) reason = `p99 ${latency.p99} ms > ${SUSTAIN.maxP99Ms} ms`;
  else if (r.published < o.rate * (o.durationMs / 1000) * 0.98) reason = `publisher fell behind (${r.published} sent)`;
  const seconds = r.ms / 1000;
  return {
    rate: o.rate, published: r.published, expected: r.expected, delivered: s.delivered,
    deliveriesPerSec: Math.round(Math.min(s.delivered, r.expected) / seconds),
    latency, serverCpu: Math.round(((cpu1 - cpu0) / (t1 - t0)) * 100) / 100,
    serverCpuUsPerDelivery: Math.round(((cpu1 - cpu0) * 1000 / Math.max(1, s.delivered)) * 100) / 100,
    loadCpu: Math.round(((mid.cpuMs - before.cpuMs) / (t1 - t0)) * 100) / 100, unexpected,
    sustained: reason === undefined, ...(reason ? { reason } : {}),
  };
}

/**
 * Fixed rates in increasing order until one is not sustained (twice in a row), then one step between the last
 * good rate and the failed one. The best sustained step is the "max sustained" figure.
 */
export async function ramp(server: ServerUnderTest, load: LoadWorkers, pub: Publisher, o: { rates: number[]; durationMs: number; target: PublishTarget; padding: number; log: (l: string) => void }): Promise<{ steps: Step[]; best: Step | undefined }> {
  const steps: Step[] = [];
  let good: Step | undefined;
  const log = (st: Step) => o.log(`  ${server.peer} ${st.rate}/s → ${st.deliveriesPerSec} deliveries/s p50 ${st.latency.p50} p99 ${st.latency.p99} max ${st.latency.max} ms cpu ${st.serverCpu} (${st.serverCpuUsPerDelivery} µs/delivery) load ${st.loadCpu}${st.sustained ? '' : ` ✗ ${st.reason}`}`);
  for (const rate of o.rates) {
    let st = await runStep(server, load, pub, { rate, durationMs: o.durationMs, target: o.target, padding: o.padding });
    steps.push(st);
    log(st);
    if (!st.sustained) {
      // The machine may be shared: a rate fails only when it fails twice.
      await sleep(2000);
      st = await runStep(server, load, pub, { rate, durationMs: o.durationMs, target: o.target, padding: o.padding });
      steps.push(st);
      log(st);
    }
    if (!st.sustained) {
      if (good) {
        const mid = Math.round((good.rate + rate) / 2);
        if (mid > good.rate && mid < rate) {
          await sleep(1500);
          const m = await runStep(server, load, pub, { rate: mid, durationMs: o.durationMs, target: o.target, padding: o.padding });
          steps.push(m);
          log(m);
          if (m.sustained) good = m;
        }
      }
      break;
    }
    good = st;
    await sleep(300);
  }
  return { steps, best: good };
}
