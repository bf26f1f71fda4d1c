import type { Redis } from 'ioredis';
import { RedisKeys } from '../redis/keys.ts';
import { closeRedis, type RedisConnection } from '../redis/connect.ts';
import type { ServerSubscriptionStore } from './server-subscription-store.ts';

/** Adds a channel once, scored by the user's next sequence number (first-added order). */
const ADD = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1])
return 1
`;

/**
 * Persistent server-side subscriptions in Redis, shared by every node: one sorted set per
 * user (channel → sequence), hash-tagged by user so it and its counter live in one Cluster slot.
 */
export class RedisServerSubscriptionStore implements ServerSubscriptionStore {
  private readonly redis: Redis & { sbSubAdd(set: string, seq: string, channel: string): Promise<number> };
  private readonly keys: RedisKeys;

  constructor(o: { connection: RedisConnection; keys?: RedisKeys }) {
    this.redis = o.connection.redis as RedisServerSubscriptionStore['redis'];
    this.keys = o.keys ?? new RedisKeys();
    this.redis.defineCommand('sbSubAdd', { numberOfKeys: 2, lua: ADD });
  }

  async add(user: string, channel: string): Promise<void> {
    const set = this.keys.serverSubscriptions(user);
    await this.redis.sbSubAdd(set, `${set}:seq`, channel);
  }

  async remove(user: string, channel: string): Promise<void> {
    await this.redis.zrem(this.keys.serverSubscriptions(user), channel);
  }

  async list(user: string, max: number): Promise<string[]> {
    return this.redis.zrange(this.keys.serverSubscriptions(user), 0, String(Math.max(0, max - 1)));
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}
