import { describe, expect, it } from 'vitest';
import type { AdminStore, NodeHeader, StatsSample } from './admin-store.ts';

export interface AdminStoreContractOptions {
  /** A store; stores of one `create` family share state when `shared` (Redis: yes). */
  create(): AdminStore | Promise<AdminStore>;
  shared: boolean;
}

const header = (id: string): NodeHeader => ({ id, name: 'host', pid: 1, version: '0.1.0', startedAt: 1, broker: 'memory', status: 'ok', seenAt: 2 });
const sample = (t: number): StatsSample => ({
  t, connections: t, users: 1, channels: 2, subscriptions: 3, publications: 4, deliveries: 5, bytesIn: 6, bytesOut: 7, errors: 0, p99: null, rss: 8, heapUsed: 9, cpu: 1.5,
});
const until = async (check: () => Promise<boolean>) => {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** What every AdminStore keeps (see admin-store.ts). */
export function runAdminStoreContract(o: AdminStoreContractOptions): void {
  describe('admin store contract', () => {
    it('keeps a session until it expires or is deleted', async () => {
      const s = await o.create();
      try {
        const before = Date.now();
        await s.createSession('d1', 60_000);
        const at = await s.sessionExpiry('d1');
        expect(at).toBeGreaterThanOrEqual(before + 60_000);
        expect(await s.sessionExpiry('unknown')).toBeUndefined();
        await s.deleteSession('d1');
        expect(await s.sessionExpiry('d1')).toBeUndefined();
        await s.createSession('d2', 30);
        await until(async () => (await s.sessionExpiry('d2')) === undefined);
      } finally {
        await s.close();
      }
    });

    it('keeps the newest samples of each node, sorted by node id, and forgets a node', async () => {
      const s = await o.create();
      try {
        for (let t = 1; t <= 5; t++) await s.report(header('n_b'), sample(t), { keep: 3, ttlMs: 60_000 });
        await s.report(header('n_a'), sample(10), { keep: 3, ttlMs: 60_000 });
        const nodes = await s.nodes();
        const ours = nodes.filter((n) => n.node.id === 'n_a' || n.node.id === 'n_b');
        expect(ours.map((n) => n.node.id)).toEqual(['n_a', 'n_b']);
        expect(ours[1]!.samples.map((x) => x.t)).toEqual([3, 4, 5]);
        expect(ours[1]!.samples[2]).toEqual(sample(5));
        expect(ours[0]!.node).toEqual(header('n_a'));
        expect((await s.nodeIds()).filter((id) => id === 'n_a' || id === 'n_b')).toEqual(['n_a', 'n_b']);
        await s.forget('n_b');
        expect((await s.nodes()).map((n) => n.node.id)).not.toContain('n_b');
      } finally {
        await s.close();
      }
    });

    it('drops a node that stopped reporting', async () => {
      const s = await o.create();
      try {
        await s.report(header('n_live'), sample(1), { keep: 3, ttlMs: 60_000 });
        await s.report(header('n_gone'), sample(1), { keep: 3, ttlMs: 1 });
        await until(async () => !(await s.nodes()).some((n) => n.node.id === 'n_gone'));
        expect((await s.nodes()).map((n) => n.node.id)).toContain('n_live');
        expect(await s.nodeIds()).not.toContain('n_gone');
      } finally {
        await s.close();
      }
    });

    if (o.shared) {
      it('shares sessions and stats between stores (nodes)', async () => {
        const [a, b] = [await o.create(), await o.create()];
        try {
          await a.createSession('shared', 60_000);
          expect(await b.sessionExpiry('shared')).toBeDefined();
          await a.report(header('n_shared'), sample(1), { keep: 3, ttlMs: 60_000 });
          expect((await b.nodes()).map((n) => n.node.id)).toContain('n_shared');
        } finally {
          await a.close();
          await b.close();
        }
      });
    }
  });
}
