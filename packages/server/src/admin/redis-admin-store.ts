import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';
import { RedisKeys } from '../redis/keys.ts';
import type { AdminStore, NodeHeader, NodeStats, StatsSample } from './admin-store.ts';

/**
 * The admin store of a cluster, on its own Redis connection (closed with the store). Every
 * key carries the `{admin}` hash tag (see `RedisKeys.admin`): sessions are `SET … PX`, a node
 * is a string (its header) and a capped list (its samples) that expire unless refreshed, and
 * a sorted set of node id → expiry says which nodes are live.
 */
export class RedisAdminStore implements AdminStore {
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;

  constructor(o: { connection: RedisConnection; keys?: RedisKeys }) {
    this.redis = o.connection.redis;
    this.keys = o.keys ?? new RedisKeys();
  }

  async createSession(digest: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.admin(`session:${digest}`), String(Date.now() + ttlMs), 'PX', ttlMs);
  }

  async sessionExpiry(digest: string): Promise<number | undefined> {
    const v = await this.redis.get(this.keys.admin(`session:${digest}`));
    const at = v === null ? NaN : Number(v);
    return Number.isFinite(at) && at > Date.now() ? at : undefined;
  }

  async deleteSession(digest: string): Promise<void> {
    await this.redis.del(this.keys.admin(`session:${digest}`));
  }

  async report(header: NodeHeader, sample: StatsSample, o: { keep: number; ttlMs: number }): Promise<void> {
    const samples = this.keys.admin(`samples:${header.id}`);
    await this.redis.multi()
      .set(this.keys.admin(`node:${header.id}`), JSON.stringify(header), 'PX', o.ttlMs)
      .rpush(samples, JSON.stringify(sample))
      .ltrim(samples, -o.keep, -1)
      .pexpire(samples, o.ttlMs)
      .zadd(this.keys.admin('nodes'), Date.now() + o.ttlMs, header.id)
      .exec();
  }

  async nodeIds(): Promise<string[]> {
    const index = this.keys.admin('nodes');
    const now = Date.now();
    await this.redis.zremrangebyscore(index, '-inf', now);
    return (await this.redis.zrangebyscore(index, now, '+inf')).sort();
  }

  async nodes(): Promise<NodeStats[]> {
    const ids = await this.nodeIds();
    if (ids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const id of ids) p.get(this.keys.admin(`node:${id}`)).lrange(this.keys.admin(`samples:${id}`), 0, -1);
    const replies = (await p.exec()) ?? [];
    const out: NodeStats[] = [];
    for (let i = 0; i < ids.length; i++) {
      const [headerErr, header] = replies[2 * i] ?? [];
      const [samplesErr, samples] = replies[2 * i + 1] ?? [];
      if (headerErr || samplesErr || typeof header !== 'string') continue;
      out.push({ node: JSON.parse(header) as NodeHeader, samples: (samples as string[]).map((s) => JSON.parse(s) as StatsSample) });
    }
    return out.sort((a, b) => (a.node.id < b.node.id ? -1 : a.node.id > b.node.id ? 1 : 0));
  }

  async forget(nodeId: string): Promise<void> {
    await this.redis.multi()
      .zrem(this.keys.admin('nodes'), nodeId)
      .del(this.keys.admin(`node:${nodeId}`), this.keys.admin(`samples:${nodeId}`))
      .exec();
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}
