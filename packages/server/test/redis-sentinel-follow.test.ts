import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisSentinel, type RedisSentinelProcess } from '../../../test/support/redis-cluster.ts';
import { ask } from '../../../test/support/redis-node.ts';
import { sleep, waitFor } from '../../../test/support/ports.ts';
import { connectRedis, type RedisConnection } from '../src/redis/connect.ts';
import { RedisHistoryStore } from '../src/history/redis-history-store.ts';
import { SentinelFollower } from '../src/redis/sentinel-follower.ts';
import { RedisKeys } from '../src/redis/keys.ts';

/**
 * A node left on a primary the sentinels replaced (as when a partition cuts the old primary
 * off from the sentinels and its replicas, but not from the node): its writes are not
 * replicated (`WAIT` falls short), and no connection breaks or answers `READONLY`. The
 * shortfall must make the node ask the sentinels again and move to the primary they name.
 * Real processes: a primary, two replicas, a sentinel; the old primary is made a lone
 * primary again (`REPLICAOF NO ONE`, and forgotten by the sentinel) once the sentinel switched
 * away from it.
 */
let group: RedisSentinelProcess;
let conn: RedisConnection;
const runId = async (port: number) => /run_id:(\w+)/.exec(await ask(port, (r) => r.info('server')))![1]!;

beforeAll(async () => {
  group = await startRedisSentinel({ replicaCount: 2 });
  conn = await connectRedis({ url: group.url, name: 'test' });
}, 120_000);

afterAll(async () => {
  conn?.redis.disconnect();
  await group?.stop();
});

describe('WAIT falls short behind Sentinel', () => {
  it('asks the sentinels again and moves to the primary they name', async () => {
    const follower = new SentinelFollower({
      target: { sentinels: group.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), master: group.master, sentinelOptions: {}, primaryOptions: {} },
      probe: conn.redis, connections: () => [conn.redis], minIntervalMs: 200,
    });
    let shortfalls = 0;
    const store = new RedisHistoryStore({ connection: conn, keys: new RedisKeys('follow:'), waitReplicas: 1, waitTimeoutMs: 300, onShortfall: () => { shortfalls++; void follower.check(); } });
    const append = (n: number) => store.append('chat:f', { channel: 'chat:f', data: n, ts: Date.now() }, { size: 100, ttlMs: 3_600_000, dedupWindowMs: 60_000, idempotencyKey: `k${n}`, publisher: 'api' });
    expect(await append(1)).toMatchObject({ offset: 1, duplicate: false });

    const old = await group.primaryPort();
    await group.failover();
    await waitFor(async () => (await group.primaryPort()) !== old, 60_000, 'the sentinel to switch the primary');
    // The old primary, as if it never heard of the switch: a primary without replicas. The
    // sentinel forgets it (RESET rediscovers the replicas from the new primary), as sentinels
    // cut off from it would leave it alone.
    await group.settled();
    await ask(old, (r) => r.call('REPLICAOF', 'NO', 'ONE'));
    for (const s of group.sentinels) await ask(s.port, (r) => r.call('SENTINEL', 'RESET', group.master));
    expect(await conn.redis.info('server').then((i) => /run_id:(\w+)/.exec(i)![1])).toBe(await runId(old));

    // Writes there are refused (not replicated) until the node has moved; then acknowledged.
    const promoted = await group.primaryPort();
    await waitFor(async () => (await append(2).catch(() => undefined))?.duplicate === false, 30_000, 'an acknowledged write on the promoted primary');
    expect(shortfalls).toBeGreaterThan(0);
    expect(await runId(promoted)).toBe(await conn.redis.info('server').then((i) => /run_id:(\w+)/.exec(i)![1]));
    await sleep(0);
  }, 120_000);
});
