import type { Logger } from '../logger.ts';
import { RedisBroker } from '../broker/redis-broker.ts';
import { RedisHistoryStore } from '../history/redis-history-store.ts';
import { RedisSessionStore } from '../session/redis-session-store.ts';
import type { Stores } from '../stores.ts';
import { connectRedis, closeRedis, redisTarget, type RedisConnection } from './connect.ts';
import { RedisKeys } from './keys.ts';

/**
 * Cluster mode: the broker and every store on one Redis. Each gets its own connection (the
 * subscriber must be dedicated; the others stay independent so a slow script never delays
 * a session look-up). The history store publishes inside its append script, to the pub/sub
 * channels the broker subscribes to.
 */
export async function createRedisBackends(url: string, log?: Logger, keys = new RedisKeys()): Promise<Stores> {
  const names = ['broker-pub', 'broker-sub', 'history', 'sessions'] as const;
  const opened: RedisConnection[] = [];
  try {
    for (const n of names) opened.push(await connectRedis({ url, name: `switchboard:${n}` }));
  } catch (err) {
    await Promise.all(opened.map((c) => closeRedis(c.redis)));
    throw err;
  }
  const [pub, sub, history, sessions] = opened as [RedisConnection, RedisConnection, RedisConnection, RedisConnection];
  log?.info({ redis: redisTarget(url), version: pub.version, sharded: pub.sharded }, 'cluster mode: connected to Redis');
  return {
    history: new RedisHistoryStore({ connection: history, keys, publish: true }),
    sessions: new RedisSessionStore({ connection: sessions, keys }),
    broker: (handler) => new RedisBroker(handler, { publisher: pub, subscriber: sub, keys, ...(log ? { log } : {}) }),
  };
}
