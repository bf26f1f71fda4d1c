import type { Redis } from 'ioredis';
import { boundedReason, type AccessEntry, type AccessStore } from './access-store.ts';
import { RedisKeys } from '../redis/keys.ts';
import { closeRedis, type RedisConnection } from '../redis/connect.ts';

/**
 * Sets a block. With a finite block and no revocation the key expires a minute after the
 * block ends (garbage collection only: the store's clock decides what is in force).
 */
const BLOCK = `
redis.call('HSET', KEYS[1], 'b', ARGV[1])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'r', ARGV[2]) else redis.call('HDEL', KEYS[1], 'r') end
if ARGV[1] ~= 'inf' and redis.call('HEXISTS', KEYS[1], 'v') == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
return 1
`;

/** Moves the revocation time forward only; a revocation never expires. */
const REVOKE = `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')
if tonumber(ARGV[1]) > v then redis.call('HSET', KEYS[1], 'v', ARGV[1]) end
redis.call('PERSIST', KEYS[1])
return 1
`;

type AccessRedis = Redis & {
  sbAccessBlock(key: string, until: string, reason: string, expireMs: number): Promise<number>;
  sbAccessRevoke(key: string, before: number): Promise<number>;
};

/**
 * Blocks and revocations in Redis, shared by every node. One hash per user (`b` blocked
 * until, ms or `inf`; `r` reason; `v` revoked before, Unix seconds) under a key of its own
 * (one Redis Cluster slot per user). Each write is one script, so concurrent blocks and
 * revocations of a user never lose one another.
 */
export class RedisAccessStore implements AccessStore {
  private readonly redis: AccessRedis;
  private readonly keys: RedisKeys;
  private readonly now: () => number;

  constructor(o: { connection: RedisConnection; keys?: RedisKeys; now?: () => number }) {
    this.redis = o.connection.redis as AccessRedis;
    this.keys = o.keys ?? new RedisKeys();
    this.now = o.now ?? Date.now;
    this.redis.defineCommand('sbAccessBlock', { numberOfKeys: 1, lua: BLOCK });
    this.redis.defineCommand('sbAccessRevoke', { numberOfKeys: 1, lua: REVOKE });
  }

  async block(user: string, untilMs: number, reason?: string): Promise<void> {
    const finite = Number.isFinite(untilMs);
    const expireMs = finite ? Math.max(1, Math.round(untilMs - this.now())) + 60_000 : 0;
    await this.redis.sbAccessBlock(this.keys.access(user), finite ? String(Math.round(untilMs)) : 'inf', boundedReason(reason) ?? '', expireMs);
  }

  async unblock(user: string): Promise<void> {
    await this.redis.hdel(this.keys.access(user), 'b', 'r');
  }

  async revoke(user: string, beforeSec: number): Promise<void> {
    await this.redis.sbAccessRevoke(this.keys.access(user), Math.floor(beforeSec));
  }

  async get(user: string): Promise<AccessEntry | undefined> {
    const [b, r, v] = await this.redis.hmget(this.keys.access(user), 'b', 'r', 'v');
    const out: AccessEntry = {};
    if (b) {
      const until = b === 'inf' ? Infinity : Number(b);
      if (until > this.now()) {
        out.blockedUntil = until;
        if (r) out.reason = r;
      }
    }
    if (v) out.revokedBefore = Number(v);
    return Object.keys(out).length > 0 ? out : undefined;
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}
