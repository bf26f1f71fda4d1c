import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, baseArgs, startRedisNode, type RedisNodeProcess } from '../../../test/support/redis-node.ts';
import { freePort, waitFor } from '../../../test/support/ports.ts';
import { connectRedis, type RedisConnection } from '../src/redis/connect.ts';
import { RedisHistoryStore } from '../src/history/redis-history-store.ts';
import { RedisKeys } from '../src/redis/keys.ts';

/**
 * Divergent histories on real Redis processes: a primary and its replica are split (the
 * replica promoted with `REPLICAOF NO ONE`, as Sentinel or the cluster does), both keep
 * writing the same channel, and the old primary's branch is then discarded (it follows the
 * promoted one). A position on the discarded branch must never recover against the other
 * timeline; positions on the common prefix keep recovering; idempotency keys of the prefix
 * still find their publication.
 */
const KEEP = { size: 1000, ttlMs: 3_600_000 };
const opts = (id?: string) => ({ ...KEEP, dedupWindowMs: 60_000, ...(id !== undefined ? { idempotencyKey: id, publisher: 'api' } : {}) });

let primary: RedisNodeProcess;
let replica: RedisNodeProcess;
let dir: string;
const opened: RedisConnection[] = [];
const store = async (port: number) => {
  const connection = await connectRedis({ url: `redis://127.0.0.1:${port}`, name: 'test' });
  opened.push(connection);
  return new RedisHistoryStore({ connection, keys: new RedisKeys('branch:'), batch: false });
};

beforeAll(async () => {
  // Both in a directory of their own: a node that turns replica loads its full sync from an RDB file there.
  dir = mkdtempSync(join(tmpdir(), 'sb-branches-'));
  const primaryPort = await freePort();
  primary = await startRedisNode(primaryPort, () => baseArgs(primaryPort, dir), 'primary');
  const port = await freePort();
  replica = await startRedisNode(port, () => [...baseArgs(port, dir), '--replicaof', '127.0.0.1', String(primary.port)], 'replica');
  await waitFor(async () => /master_link_status:up/.test(await ask(port, (r) => r.info('replication'))), 30_000, 'replica in sync');
}, 60_000);

afterAll(async () => {
  for (const c of opened) c.redis.disconnect();
  await replica?.kill();
  await primary?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('history across a promotion that discards a branch', () => {
  it('forks a new epoch on the promoted copy; positions on the discarded branch are not recovered', async () => {
    const old = await store(primary.port);
    const ch = 'chat:split';
    const before = [];
    for (let i = 1; i <= 5; i++) before.push(await old.append(ch, { channel: ch, data: `p${i}`, ts: Date.now() }, opts(`k${i}`)));
    const epoch = before[0]!.epoch;
    expect(before.map((r) => [r.epoch, r.offset])).toEqual([1, 2, 3, 4, 5].map((o) => [epoch, o]));
    await ask(primary.port, (r) => r.call('WAIT', 1, 5000));

    // The replica is promoted; the old primary, cut off, keeps writing its own branch.
    await ask(replica.port, (r) => r.call('REPLICAOF', 'NO', 'ONE'));
    for (let i = 6; i <= 8; i++) expect(await old.append(ch, { channel: ch, data: `old${i}`, ts: Date.now() }, opts())).toMatchObject({ epoch, offset: i });
    const promoted = await store(replica.port);
    const a = await promoted.append(ch, { channel: ch, data: 'new6', ts: Date.now() }, opts());
    const b = await promoted.append(ch, { channel: ch, data: 'new7', ts: Date.now() }, opts());
    // A new epoch continues the offsets of the branch it inherited.
    expect(a.epoch).not.toBe(epoch);
    expect([a.offset, b.offset, b.epoch]).toEqual([6, 7, a.epoch]);

    // The old primary follows the promoted one: its branch (offsets 6-8 of the old epoch) is gone.
    await ask(primary.port, (r) => r.call('REPLICAOF', '127.0.0.1', String(replica.port)));
    await waitFor(async () => /master_link_status:up/.test(await ask(primary.port, (r) => r.info('replication'))), 30_000, 'old primary following');

    const read = (since: { epoch: string; offset: number }) => promoted.read(ch, { since, limit: 100, retention: KEEP });
    // On the common prefix: recovered, continuing on the new epoch.
    const fromPrefix = await read({ epoch, offset: 3 });
    expect(fromPrefix.recoverable).toBe(true);
    expect(fromPrefix.publications.map((p) => [p.epoch, p.offset, p.data])).toEqual([[epoch, 4, 'p4'], [epoch, 5, 'p5'], [a.epoch, 6, 'new6'], [a.epoch, 7, 'new7']]);
    expect((await read({ epoch, offset: 5 })).publications.map((p) => p.data)).toEqual(['new6', 'new7']);
    // On the discarded branch (the old epoch past 5): never a continuation from the other timeline.
    for (const offset of [6, 7, 8]) {
      const r = await read({ epoch, offset });
      expect(r.recoverable, `old epoch, offset ${offset}`).toBe(false);
      expect(r.position).toEqual({ epoch: a.epoch, offset: 7 });
    }
    // On the new branch: as usual.
    expect((await read({ epoch: a.epoch, offset: 6 })).publications.map((p) => p.data)).toEqual(['new7']);
    // A retry of a publication of the prefix is its duplicate, in the epoch it was stored in.
    expect(await promoted.append(ch, { channel: ch, data: 'p3', ts: Date.now() }, opts('k3'))).toEqual({ epoch, offset: 3, duplicate: true });
    // A batched store answers the same.
    const batched = new RedisHistoryStore({ connection: opened.at(-1)!, keys: new RedisKeys('branch:') });
    expect(await batched.append(ch, { channel: ch, data: 'p4', ts: Date.now() }, opts('k4'))).toEqual({ epoch, offset: 4, duplicate: true });
    expect(await batched.append(ch, { channel: ch, data: 'new8', ts: Date.now() }, opts('k8'))).toEqual({ epoch: a.epoch, offset: 8, duplicate: false });
  });
});
