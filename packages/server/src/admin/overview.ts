import type { NodeStats, StatsSample } from './admin-store.ts';

const SUMMED = ['connections', 'users', 'channels', 'subscriptions', 'publications', 'deliveries', 'bytesIn', 'bytesOut', 'errors', 'rss', 'heapUsed', 'cpu'] as const;

/**
 * The whole cluster as one series: per sample time, the sum of every node's numbers (users
 * are summed per node, so a user on two nodes counts twice) and the highest node's p99.
 * Nodes sample on aligned times, so their samples meet at the same `t`.
 */
export function clusterSeries(nodes: readonly NodeStats[]): StatsSample[] {
  const byTime = new Map<number, StatsSample>();
  for (const n of nodes) {
    for (const s of n.samples) {
      const acc = byTime.get(s.t);
      if (!acc) {
        byTime.set(s.t, { ...s, ...(s.errorsByCode ? { errorsByCode: Object.assign(Object.create(null) as Record<string, number>, s.errorsByCode) } : {}) });
        continue;
      }
      for (const k of SUMMED) acc[k] += s[k];
      for (const [code, r] of Object.entries(s.errorsByCode ?? {})) {
        acc.errorsByCode ??= Object.create(null) as Record<string, number>;
        acc.errorsByCode[code] = (acc.errorsByCode[code] ?? 0) + r;
      }
      if (s.p99 !== null && (acc.p99 === null || s.p99 > acc.p99)) acc.p99 = s.p99;
    }
  }
  return [...byTime.values()].sort((a, b) => a.t - b.t);
}
