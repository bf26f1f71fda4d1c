import { describe, expect, it } from 'vitest';
import { bucketQuantile, StatsSampler, type SamplerSource } from '../src/admin/stats-sampler.ts';
import { clusterSeries } from '../src/admin/overview.ts';
import { MemoryAdminStore } from '../src/admin/memory-admin-store.ts';
import { NodeQueries } from '../src/admin/node-queries.ts';
import type { StatsSample } from '../src/admin/admin-store.ts';
import type { ControlMessage } from '../src/broker/broker.ts';
import { MemoryBroker, MemoryBus } from '../src/broker/memory-broker.ts';
import { NodeRequests } from '../src/cluster/node-requests.ts';
import { createLogger } from '../src/logger.ts';
import type { ConnectionView } from '../src/admin/connection-view.ts';
import { ConnectionEventLog } from '../src/presence/connection-events.ts';

describe('bucketQuantile', () => {
  const bounds = [0.001, 0.01, 0.1];
  it('is null without observations', () => {
    expect(bucketQuantile(bounds, [0, 0, 0, 0], 0.99)).toBeNull();
  });
  it('interpolates inside the bucket that holds the rank, in ms', () => {
    // 100 observations: 50 under 1 ms, 50 in (1 ms, 10 ms]: p99 is 98% of the way through the second bucket
    expect(bucketQuantile(bounds, [50, 50, 0, 0], 0.99)).toBeCloseTo(1 + 9 * 0.98, 5);
    expect(bucketQuantile(bounds, [100, 0, 0, 0], 0.5)).toBeCloseTo(0.5, 5);
  });
  it('reports the highest bound for the +Inf bucket', () => {
    expect(bucketQuantile(bounds, [0, 0, 0, 5], 0.99)).toBe(100);
  });
});

const sample = (t: number, v: number, p99: number | null = null): StatsSample => ({
  t, connections: v, users: v, channels: v, subscriptions: v, publications: v, deliveries: v, bytesIn: v, bytesOut: v, errors: v, p99, rss: v, heapUsed: v, cpu: v,
});
const header = (id: string) => ({ id, name: id, pid: 1, version: '1', startedAt: 0, broker: 'memory', status: 'ok', seenAt: 0 });

describe('clusterSeries', () => {
  it('sums the nodes per sample time and keeps the highest p99', () => {
    const out = clusterSeries([
      { node: header('a'), samples: [sample(1000, 1, 5), sample(2000, 2, null)] },
      { node: header('b'), samples: [sample(2000, 10, 7), sample(3000, 20, 3)] },
    ]);
    expect(out.map((s) => [s.t, s.connections, s.bytesOut, s.p99])).toEqual([[1000, 1, 1, 5], [2000, 12, 12, 7], [3000, 20, 20, 3]]);
  });
  it('sums errors by code across nodes, leaving the nodes\' samples as they were', () => {
    const a = { ...sample(1000, 1), errorsByCode: { unknown_channel: 1, bad_request: 0.5 } };
    const b = { ...sample(1000, 1), errorsByCode: { unknown_channel: 2 } };
    const [out] = clusterSeries([{ node: header('a'), samples: [a] }, { node: header('b'), samples: [b] }]);
    expect({ ...out!.errorsByCode }).toEqual({ unknown_channel: 3, bad_request: 0.5 });
    expect(a.errorsByCode).toEqual({ unknown_channel: 1, bad_request: 0.5 });
  });
});

describe('StatsSampler', () => {
  it('turns totals into per-second rates over the interval, with aligned, increasing times', async () => {
    const totals = { publications: 0, deliveries: 0, bytesIn: 0, bytesOut: 0, errors: 0 };
    const counts = [0, 0, 0];
    const source: SamplerSource = {
      gauges: () => ({ connections: 3, users: 2, channels: 1, subscriptions: 4 }),
      counters: () => ({ ...totals }),
      latency: () => ({ bounds: [0.001, 0.01], counts: [...counts] }),
      status: async () => 'ok',
    };
    const store = new MemoryAdminStore();
    const sampler = new StatsSampler({ store, source, header: { id: 'n_1', name: 'h', pid: 1, version: '1', startedAt: 0, broker: 'memory' }, intervalMs: 1000 });
    totals.publications = 1_000_000;
    totals.bytesOut = 5_000_000;
    counts[0] = 10;
    const first = await sampler.sampleAndReport();
    expect(first.publications).toBeGreaterThan(0);
    expect(first.p99).not.toBeNull();
    expect(first).toMatchObject({ connections: 3, users: 2, channels: 1, subscriptions: 4, errors: 0 });
    const second = await sampler.sampleAndReport();
    // nothing happened since the first sample: no rate, no latency
    expect(second).toMatchObject({ publications: 0, bytesOut: 0, p99: null });
    expect(second.t).toBeGreaterThan(first.t);
    expect(second.t % 1000).toBe(0);
    const [node] = await store.nodes();
    expect(node!.node).toMatchObject({ id: 'n_1', status: 'ok' });
    expect(node!.samples).toHaveLength(2);
    await sampler.stop();
    expect(await store.nodes()).toEqual([]);
  });

  it('breaks error replies down by code: the rate of each code seen in the interval', async () => {
    const codes = new Map<string, number>([['permission_denied', 4]]);
    const source: SamplerSource = {
      gauges: () => ({ connections: 0, users: 0, channels: 0, subscriptions: 0 }),
      counters: () => ({ publications: 0, deliveries: 0, bytesIn: 0, bytesOut: 0, errors: 0 }),
      errorCodes: () => codes,
      latency: () => ({ bounds: [0.001], counts: [0, 0] }),
      status: async () => 'ok',
    };
    const sampler = new StatsSampler({ store: new MemoryAdminStore(), source, header: { id: 'n_2', name: 'h', pid: 1, version: '1', startedAt: 0, broker: 'memory' }, intervalMs: 1000 });
    codes.set('unknown_channel', 1_000_000);
    const first = await sampler.sampleAndReport();
    expect(Object.keys(first.errorsByCode ?? {})).toEqual(['unknown_channel']); // permission_denied: none since the start
    expect(first.errorsByCode!['unknown_channel']).toBeGreaterThan(0);
    const second = await sampler.sampleAndReport();
    expect(second.errorsByCode).toBeUndefined(); // nothing new
    await sampler.stop();
  });
});

describe('NodeQueries', () => {
  const view = (node: string, since: number): ConnectionView => ({
    client: `c_${node}_${since}`, user: 'u', node, transport: 'websocket', ip: '127.0.0.1', since, anonymous: false, channels: [], channelCount: 0,
  });

  /**
   * Nodes on one in-process bus (memory brokers): every control message reaches every node.
   * A silent node's broker drops what it is sent, so it never answers.
   */
  function cluster(ids: string[], silent: string[] = []) {
    const bus = new MemoryBus();
    const nodes: NodeQueries[] = [];
    for (const [i, id] of ids.entries()) {
      let requests: NodeRequests;
      const handler = {
        onPublication() {},
        onControl(msg: ControlMessage) {
          if (silent.includes(id)) return;
          if (msg.type === 'request') requests.onRequest(msg);
          if (msg.type === 'reply') requests.onReply(msg);
        },
      };
      const broker = new MemoryBroker(handler, { bus, nodeId: id });
      // Replies arrive a turn later, as over a network broker.
      requests = new NodeRequests({ nodeId: id, log: createLogger('silent'), publish: async (m, to) => void queueMicrotask(() => void broker.publishControl(m, to)) });
      nodes.push(new NodeQueries({
        requests, timeoutMs: 300,
        local: (q) => [view(id, 100 + i), view(id, 200 + i)].slice(0, q.limit),
        liveNodes: async () => ids,
      }));
    }
    return nodes;
  }

  it('gathers every live node\'s connections, newest first, up to the limit', async () => {
    const [a] = cluster(['n_a', 'n_b']);
    const r = await a!.connections({ limit: 3 });
    expect(r.missing).toEqual([]);
    expect(r.connections.map((c) => c.client)).toEqual(['c_n_b_201', 'c_n_a_200', 'c_n_b_101']);
  });

  it('answers with what arrived and names the nodes that did not answer in time', async () => {
    const [a] = cluster(['n_a', 'n_b'], ['n_b']);
    const r = await a!.connections({ limit: 10 });
    expect(r.missing).toEqual(['n_b']);
    expect(r.connections.map((c) => c.node)).toEqual(['n_a', 'n_a']);
  });
});

describe('ConnectionEventLog', () => {
  it('keeps the last `capacity` events with increasing seq, and answers the ones after a seq', () => {
    const log = new ConnectionEventLog(3);
    for (let i = 1; i <= 5; i++) log.record({ kind: 'joined', client: `c_${i}`, user: `u${i}`, transport: 'websocket' });
    const all = log.since(0);
    expect(all.map((e) => [e.seq, e.client])).toEqual([[3, 'c_3'], [4, 'c_4'], [5, 'c_5']]);
    expect(log.since(4).map((e) => e.client)).toEqual(['c_5']);
    expect(log.since(0, 1).map((e) => e.client)).toEqual(['c_5']);
  });
});
