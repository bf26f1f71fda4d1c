import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisSentinelProcess } from './support/redis-cluster.ts';
import { startSentinelGateway, type ApiAnswer } from './support/sentinel-gateway.ts';
import { connectRedis, type RedisConnection } from '../packages/server/src/redis/connect.ts';
import { RedisKeys } from '../packages/server/src/redis/keys.ts';
import { RedisHistoryStore, ReplicationError } from '../packages/server/src/history/redis-history-store.ts';

/**
 * Sentinel and `redisWaitReplicas`: a real primary, two replicas and a sentinel, and a real
 * gateway process on `redis+sentinel://` with `SWITCHBOARD_REDIS_WAIT_REPLICAS=1`. The
 * primary is killed with SIGKILL in the middle of a publish stream.
 */
const API_KEY = 'sentinel-api-key-0123456789';
const CONFIG = { namespaces: { '': {}, chat: { history: { size: 10_000, ttl: '1h' } } } };
const retention = { size: 1000, ttlMs: 3_600_000, dedupWindowMs: 60_000 };

let group: RedisSentinelProcess;
let api: (method: string, body: unknown) => Promise<ApiAnswer>;
let stop: (() => Promise<void>) | undefined;
const opened: RedisConnection[] = [];

beforeAll(async () => {
  ({ group, api, stop } = await startSentinelGateway({ config: CONFIG, apiKey: API_KEY }));
}, 300_000);

afterAll(async () => {
  for (const c of opened) c.redis.disconnect();
  await stop?.();
});

describe('Sentinel with redisWaitReplicas', () => {
  it('acknowledges only what enough replicas confirmed; too few is an error, and a retry never duplicates', async () => {
    const connection = await connectRedis({ url: group.url, name: 'test:wait' });
    opened.push(connection);
    expect(connection.topology).toBe('sentinel');
    const keys = new RedisKeys(`t${randomBytes(4).toString('hex')}:`);
    const one = new RedisHistoryStore({ connection, keys, waitReplicas: 1 });
    const three = new RedisHistoryStore({ connection, keys, waitReplicas: 3, waitTimeoutMs: 200 });
    const pub = (n: number) => ({ channel: 'chat:w', data: { n }, ts: Date.now() });
    expect(await one.append('chat:w', pub(1), { ...retention, idempotencyKey: 'a' })).toMatchObject({ offset: 1, duplicate: false });
    // Two replicas cannot confirm three: never acknowledged, however often it is retried.
    for (let i = 0; i < 2; i++) {
      const err = await three.append('chat:w', pub(2), { ...retention, idempotencyKey: 'b' }).catch((e) => e);
      expect(err).toBeInstanceOf(ReplicationError);
      expect(err).toMatchObject({ confirmed: 2, required: 3 });
    }
    expect(await three.claimKey('chat:none', 'c', 60_000).catch((e) => e)).toBeInstanceOf(ReplicationError);
    // Retried where enough replicas confirm: the one stored copy, acknowledged now.
    expect(await one.append('chat:w', pub(2), { ...retention, idempotencyKey: 'b' })).toMatchObject({ offset: 2, duplicate: true });
    const read = await one.read('chat:w', { since: undefined, limit: 10, retention });
    expect(read.publications.map((p) => p.data)).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
