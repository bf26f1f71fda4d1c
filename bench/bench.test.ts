import { readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from './run.ts';
import { DEFAULT_PEERS } from './load/clients.ts';

/**
 * Keeps the harness from rotting: one tiny `fanout` run end to end against every peer
 * (servers and load in child processes, as for real), and one tiny `delta` run. Asserts
 * that every message arrived and the result file is complete; never asserts on speed.
 */
describe('bench harness', () => {
  it('runs fanout end to end for switchboard, socketio and ws', async () => {
    const file = await main(['fanout', '--subscribers', '20', '--rates', '10', '--step', '1', '--warmup', '0', '--common-rate', '10', '--quiet']);
    try {
      const r = JSON.parse(readFileSync(file, 'utf8'));
      expect(r.scenario).toBe('fanout');
      expect(r.machine.cpus).toBeGreaterThan(0);
      expect(r.machine.node).toMatch(/^v\d+/);
      for (const peer of DEFAULT_PEERS) {
        const p = r.peers[peer];
        expect(p.connect.ready, peer).toBe(20);
        const steps = [...p.steps, p.atCommonRate];
        for (const st of steps) {
          expect(st.published, peer).toBeGreaterThanOrEqual(10);
          expect(st.expected, peer).toBe(st.published * 20);
          expect(st.delivered, peer).toBe(st.expected);
          expect(st.unexpected, peer).toBe(0);
          expect(st.latency.count, peer).toBe(st.expected);
          expect(st.latency.p99, peer).toBeGreaterThanOrEqual(st.latency.p50);
          expect(st.latency.max, peer).toBeGreaterThanOrEqual(st.latency.p99);
        }
      }
      expect(r.ratios.map((x: { metric: string }) => x.metric)).toContain('max sustained deliveries/s');
    } finally {
      rmSync(file, { force: true });
    }
  }, 90_000);

  it('runs delta end to end: every mode measured, deltas smaller than plain frames', async () => {
    const file = await main(['delta', '--subscribers', '5', '--publications', '10', '--warmup', '2', '--quiet']);
    try {
      const r = JSON.parse(readFileSync(file, 'utf8'));
      expect(r.scenario).toBe('delta');
      const modes = r.peers.switchboard;
      expect(Object.keys(modes)).toEqual(['plain', 'delta', 'plain+deflate', 'delta+deflate']);
      for (const m of Object.values(modes) as Array<{ deliveries: number; wireBytesPerDelivery: number; deltaShare: number }>) {
        expect(m.deliveries).toBe(50);
        expect(m.wireBytesPerDelivery).toBeGreaterThan(0);
      }
      expect(modes.plain.deltaShare).toBe(0);
      expect(modes.delta.deltaShare).toBe(1);
      expect(modes.delta.wireBytesPerDelivery).toBeLessThan(modes.plain.wireBytesPerDelivery);
      expect(r.params.deltaEncodings.latin1).toBeGreaterThan(0);
    } finally {
      rmSync(file, { force: true });
    }
  }, 90_000);

  it('runs history-flood end to end (tiny): the flood is answered, the probe measured idle and under it', async () => {
    const file = await main(['history-flood', '--connections', '3', '--parallel', '2', '--publications', '10', '--size', '20000', '--seconds', '1', '--interval', '50', '--quiet']);
    try {
      const r = JSON.parse(readFileSync(file, 'utf8'));
      expect(r.scenario).toBe('history-flood');
      const s = r.peers.switchboard;
      expect(s.replies).toBeGreaterThan(0);
      expect(s.errors).toBe(0);
      expect(s.maxReply).toBeGreaterThan(0);
      expect(s.idle.count).toBeGreaterThan(0);
      expect(s.flood.count).toBeGreaterThan(0);
      expect(s.flood.p99).toBeGreaterThanOrEqual(s.flood.p50);
    } finally {
      rmSync(file, { force: true });
    }
  }, 90_000);

  it('runs webhooks end to end (tiny): each storage\'s ceiling, and every event delivered once and in order in each mode', async () => {
    const file = await main(['webhooks', '--events', '200', '--keys', '20', '--delay', '5', '--concurrency', '8', '--batch', '10', '--quiet']);
    try {
      const r = JSON.parse(readFileSync(file, 'utf8'));
      expect(r.scenario).toBe('webhooks');
      expect(Object.keys(r.peers.switchboard)).toEqual(['memory', 'sqlite', 'redis']);
      for (const [storage, s] of Object.entries(r.peers.switchboard) as Array<[string, { ceiling: number; modes: Record<string, { events: number; unique: number; twice: number; outOfOrder: number }> }]>) {
        expect(s.ceiling, storage).toBeGreaterThan(0);
        expect(Object.keys(s.modes)).toEqual(['serial', 'parallel', 'batched']);
        for (const [mode, m] of Object.entries(s.modes)) expect([m.unique, m.twice, m.outOfOrder], `${storage} ${mode}`).toEqual([m.events, 0, 0]);
      }
    } finally {
      rmSync(file, { force: true });
    }
  }, 120_000);

  it('runs outbox end to end (tiny): pgbench\'s ceiling, commit-to-delivery latency and sustained rows measured', async () => {
    const file = await main(['outbox', '--seconds', '1', '--writers', '2', '--rate', '100', '--channels', '2', '--subscribers', '1', '--quiet']);
    try {
      const r = JSON.parse(readFileSync(file, 'utf8'));
      expect(r.scenario).toBe('outbox');
      const s = r.peers.switchboard;
      expect(s.ceiling).toBeGreaterThan(0);
      expect(s.sustained).toBeGreaterThan(0);
      expect(s.p99).toBeGreaterThanOrEqual(s.p50);
    } finally {
      rmSync(file, { force: true });
    }
  }, 120_000);
});
