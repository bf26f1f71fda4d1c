import { describe, expect, it } from 'vitest';
import { LiveNodes } from '../../src/cluster/live-nodes.ts';

/** A source of live node ids that counts its reads and can be changed or broken. */
function source(initial: string[]) {
  const s = {
    ids: new Set(initial),
    reads: 0,
    broken: false,
    read: async () => {
      s.reads++;
      if (s.broken) throw new Error('directory down');
      return [...s.ids];
    },
  };
  return s;
}

describe('unit: LiveNodes (is the node an HTTP-transport id names alive?)', () => {
  it('a flood of ids naming nodes that do not exist costs a few reads, and every one is answered false', async () => {
    const src = source(['a', 'b']);
    const live = new LiveNodes({ read: src.read, minIntervalMs: 50 });
    const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => live.isAlive(`ghost${i}`)));
    expect(answers.every((a) => a === false)).toBe(true);
    expect(src.reads).toBeLessThanOrEqual(2); // one in progress, one queued behind it
  });

  it('a known node is alive at once from a fresh view; a node that announced itself before the ask is always seen', async () => {
    const src = source(['a']);
    const live = new LiveNodes({ read: src.read, maxAgeMs: 60_000, minIntervalMs: 0 });
    expect(await live.isAlive('a')).toBe(true);
    const reads = src.reads;
    expect(live.isAlive('a')).toBe(true); // synchronous: no read
    expect(src.reads).toBe(reads);
    src.ids.add('new');
    expect(await live.isAlive('new')).toBe(true); // a miss reads again
    src.ids.delete('a');
    expect(live.isAlive('a')).toBe(true); // still in a fresh view: the relay's timeout covers a node that just died
  });

  it('a view older than maxAgeMs is read again; a node gone from it is not alive', async () => {
    const src = source(['a']);
    const live = new LiveNodes({ read: src.read, maxAgeMs: 0, minIntervalMs: 0 });
    expect(await live.isAlive('a')).toBe(true);
    src.ids.delete('a');
    expect(await live.isAlive('a')).toBe(false);
  });

  it('a directory that cannot be read hides no node (the relay then answers as before)', async () => {
    const src = source([]);
    src.broken = true;
    const live = new LiveNodes({ read: src.read, minIntervalMs: 0 });
    expect(await live.isAlive('anyone')).toBe(true);
  });
});
