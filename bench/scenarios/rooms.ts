import { LoadWorkers, Publisher, ServerUnderTest, assertFdBudget, sleep } from '../lib/cluster.ts';
import { ramp, runStep, type Step } from '../lib/ramp.ts';
import type { Peer } from '../load/clients.ts';
import { num, nums, type ScenarioContext, type ScenarioResult } from './types.ts';

/**
 * `rooms`: Centrifugo's million-connection layout scaled down. Every client subscribes to
 * its personal channel `u:<i>` and to a group `g:<i/10>` of 10 members; the publisher
 * alternates a random group (10 deliveries) and a random personal channel (1), up a ramp of
 * rates until one is not sustained.
 */
export async function rooms(ctx: ScenarioContext): Promise<ScenarioResult> {
  const clients = num(ctx, 'clients', 10_000);
  const groupSize = num(ctx, 'group', 10);
  const rates = nums(ctx, 'rates', [1000, 2000, 4000, 8000, 16_000, 32_000]);
  const durationMs = num(ctx, 'step', 4) * 1000;
  const padding = num(ctx, 'padding', 64);
  assertFdBudget(clients + 10);
  const target = { kind: 'rooms' as const, clients, groupSize };
  const out: Partial<Record<Peer, { connectMs: number; steps: Step[]; maxSustained: Step | null }>> = {};
  for (const peer of ctx.peers) {
    ctx.log(`rooms: ${peer}, ${clients} clients in groups of ${groupSize}`);
    const server = new ServerUnderTest(peer, ctx);
    await server.start();
    const load = new LoadWorkers(clients);
    const pub = new Publisher();
    try {
      const c = await load.connect({ peer, base: server.base, rule: { kind: 'rooms', groupSize }, reconnect: false, concurrency: 500, timeoutMs: 180_000 });
      if (c.ready < clients) throw new Error(`${peer}: only ${c.ready}/${clients} clients ready (${JSON.stringify(c.closeCodes)})`);
      await sleep(500);
      await runStep(server, load, pub, { rate: rates[0]!, durationMs: 2000, target, padding });
      const r = await ramp(server, load, pub, { rates, durationMs, target, padding, log: ctx.log });
      out[peer] = { connectMs: Math.round(c.ms), steps: r.steps, maxSustained: r.best ?? null };
    } finally {
      await pub.close();
      await load.close();
      await server.stop();
    }
  }
  const first = rates[0]!;
  const at = (p: Peer) => out[p]!.steps.find((s) => s.rate === first);
  const val = (f: (p: Peer) => number | undefined) => Object.fromEntries(ctx.peers.map((p) => [p, f(p) ?? null]));
  return {
    scenario: 'rooms',
    params: { clients, groupSize, rates, stepMs: durationMs, padding },
    peers: out,
    comparisons: [
      { metric: 'max sustained deliveries/s', unit: 'msg/s', higherIsBetter: true, values: val((p) => out[p]!.maxSustained?.deliveriesPerSec) },
      { metric: 'max sustained publications/s', unit: 'pub/s', higherIsBetter: true, values: val((p) => out[p]!.maxSustained?.rate) },
      { metric: `p99 latency at ${first} pub/s`, unit: 'ms', higherIsBetter: false, values: val((p) => at(p)?.latency.p99) },
      { metric: `server CPU at ${first} pub/s`, unit: 'cores', higherIsBetter: false, values: val((p) => at(p)?.serverCpu) },
      { metric: `server CPU per delivery at ${first} pub/s`, unit: 'µs', higherIsBetter: false, values: val((p) => at(p)?.serverCpuUsPerDelivery) },
    ],
    notes: ['publications alternate a random 10-member group and a random personal channel (5.5 deliveries each on average)'],
  };
}
