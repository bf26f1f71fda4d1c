import { describe, expect, it } from 'vitest';
import { HistoryReads } from '../../src/history/history-reads.ts';
import { MemoryHistoryStore } from '../../src/history/memory-history-store.ts';
import type { HistoryStore, ReadResult } from '../../src/history/history-store.ts';

/**
 * `HistoryReads`, the gate every client-facing history read passes (issue 13, defect 4):
 * bounded bytes, bounded reads at once (FIFO), and a per-turn byte budget so synchronous
 * stores cannot run many reads back to back without the event loop serving sockets between.
 */
const KEEP = { size: 1000, ttlMs: 3_600_000 };
const opts = { dedupWindowMs: 60_000, ...KEEP };
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function filled(count: number, pad: number): Promise<MemoryHistoryStore> {
  const store = new MemoryHistoryStore();
  for (let n = 1; n <= count; n++) await store.append('c:x', { channel: 'c:x', data: { n, pad: 'p'.repeat(pad) }, ts: Date.now() }, opts);
  return store;
}

describe('HistoryReads', () => {
  it('runs at most inFlight reads at once; the others start in arrival order as slots free', async () => {
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    const store = {
      read: (channel: string) => new Promise<ReadResult>((resolve) => {
        started.push(channel);
        finish.set(channel, () => resolve({ position: { epoch: 'e', offset: 0 }, publications: [], recoverable: true, more: false, bytes: 0 }));
      }),
    } as unknown as HistoryStore;
    const reads = new HistoryReads({ store, inFlight: 3, maxBytes: 1024 });
    const all = Array.from({ length: 8 }, (_, i) => reads.read(`c:${i}`, { limit: 10, retention: KEEP }));
    for (let t = 0; t < 5; t++) await nextTurn();
    expect(started).toEqual(['c:0', 'c:1', 'c:2']);
    expect(reads.inFlight).toBe(3);
    expect(reads.queued).toBe(5);
    finish.get('c:1')!();
    for (let t = 0; t < 5; t++) await nextTurn();
    expect(started).toEqual(['c:0', 'c:1', 'c:2', 'c:3']);
    for (let i = 0; i < 8; i++) {
      for (let t = 0; t < 5; t++) await nextTurn();
      finish.get(`c:${i}`)?.();
    }
    await Promise.all(all);
    expect(started).toEqual(['c:0', 'c:1', 'c:2', 'c:3', 'c:4', 'c:5', 'c:6', 'c:7']);
    expect(reads.peak).toBe(3);
    expect(reads.inFlight).toBe(0);
  });

  it('bounds each read in bytes at the store, and starts one full-sized read per event-loop turn', async () => {
    const store = await filled(40, 1000);
    const reads = new HistoryReads({ store, inFlight: 16, maxBytes: 4096 });
    const order: string[] = [];
    setImmediate(() => order.push('next turn'));
    const a = reads.read('c:x', { limit: 1000, retention: KEEP }).then((r) => { order.push('a'); return r; });
    const b = reads.read('c:x', { limit: 1000, retention: KEEP }).then((r) => { order.push('b'); return r; });
    const [ra, rb] = await Promise.all([a, b]);
    expect(order).toEqual(['a', 'next turn', 'b']); // I/O is served between them
    for (const r of [ra, rb]) {
      expect(r.publications.length).toBeGreaterThan(0);
      expect(r.bytes).toBeLessThanOrEqual(4096);
      expect(r.more).toBe(true);
    }
  });

  it('lets many small reads run in one turn (what counts is the bytes read, not the bound reserved)', async () => {
    const store = await filled(3, 10);
    const reads = new HistoryReads({ store, inFlight: 16, maxBytes: 64 * 1024 });
    const order: string[] = [];
    setImmediate(() => order.push('next turn'));
    for (let i = 0; i < 5; i++) {
      const r = await reads.read('c:x', { limit: 1, retention: KEEP });
      expect(r.bytes).toBeLessThan(200);
      order.push(`r${i}`);
    }
    await nextTurn();
    expect(order).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'next turn']);
  });
});
