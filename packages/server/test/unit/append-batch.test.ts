import { describe, expect, it } from 'vitest';
import { AppendBatcher, type AppendGroup, type AppendOutcome } from '../../src/history/redis-append-batch.ts';

const item = (n: number) => ({ json: `{"n":${n}}`, idKey: `k${n}`, window: 0, ts: n, publish: true });

/** A batcher whose calls are recorded and answered with consecutive offsets per channel. */
function recording(maxBatch: number, fail?: (g: AppendGroup) => boolean) {
  const turns: AppendGroup[][] = [];
  const offsets = new Map<string, number>();
  const batcher = new AppendBatcher((groups) => {
    turns.push(groups);
    return groups.map(async (g) => {
      if (fail?.(g)) throw new Error('store down');
      return g.items.map((): AppendOutcome => {
        const offset = (offsets.get(g.channel) ?? 0) + 1;
        offsets.set(g.channel, offset);
        return { epoch: 'e', offset, duplicate: false };
      });
    });
  }, maxBatch);
  return { batcher, turns };
}

describe('AppendBatcher', () => {
  it('one call per channel per turn, in call order; a full group continues in the next call', async () => {
    const { batcher, turns } = recording(3);
    const r = { size: 10, ttlMs: 1000 };
    const calls = [batcher.add('a', r, item(1)), batcher.add('b', r, item(2)), batcher.add('a', r, item(3)), batcher.add('a', r, item(4)), batcher.add('a', r, item(5))];
    expect(turns).toHaveLength(0); // nothing leaves before the turn's I/O is handled
    const out = await Promise.all(calls);
    expect(turns).toHaveLength(1);
    expect(turns[0]!.map((g) => [g.channel, g.items.map((i) => i.ts)])).toEqual([['a', [1, 3, 4]], ['b', [2]], ['a', [5]]]);
    expect(out.map((o) => o.offset)).toEqual([1, 1, 2, 3, 4]);
    await batcher.add('a', r, item(6));
    expect(turns).toHaveLength(2);
  });

  it('other retention for a channel within a turn opens a new group after the first: call order kept', async () => {
    const { batcher, turns } = recording(64);
    const calls = [batcher.add('a', { size: 10, ttlMs: 1000 }, item(1)), batcher.add('a', { size: 20, ttlMs: 1000 }, item(2)), batcher.add('a', { size: 10, ttlMs: 1000 }, item(3))];
    await Promise.all(calls);
    expect(turns[0]!.map((g) => [g.size, g.items.map((i) => i.ts)])).toEqual([[10, [1]], [20, [2]], [10, [3]]]);
  });

  it('a failed call rejects each of its publications and only those', async () => {
    const { batcher } = recording(64, (g) => g.channel === 'down');
    const ok = batcher.add('up', { size: 10, ttlMs: 1000 }, item(1));
    const bad = [batcher.add('down', { size: 10, ttlMs: 1000 }, item(2)), batcher.add('down', { size: 10, ttlMs: 1000 }, item(3))];
    await expect(ok).resolves.toMatchObject({ offset: 1 });
    for (const b of bad) await expect(b).rejects.toThrow('store down');
  });
});
