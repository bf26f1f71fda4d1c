import type { RedisOptions } from 'ioredis';

/**
 * The Redis the chaos peers' nodes share, from the environment: CHAOS_REDIS
 * (`redis://host:port`) or CHAOS_SENTINELS (`host:port,…`) with CHAOS_MASTER; undefined on one node.
 */
export function redisOptions(): RedisOptions | undefined {
  const retry = { retryStrategy: () => 200, maxRetriesPerRequest: null };
  if (process.env.CHAOS_SENTINELS) {
    const sentinels = process.env.CHAOS_SENTINELS.split(',').map((s) => ({ host: s.split(':')[0]!, port: Number(s.split(':')[1]) }));
    return { sentinels, name: process.env.CHAOS_MASTER ?? 'sbmaster', ...retry };
  }
  if (process.env.CHAOS_REDIS) {
    const u = new URL(process.env.CHAOS_REDIS);
    return { host: u.hostname, port: Number(u.port), ...retry };
  }
  return undefined;
}
