import { Redis } from 'ioredis';

/** A connected Redis client and what the server supports. */
export interface RedisConnection {
  redis: Redis;
  /** `redis_version` reported by the server at connect time, e.g. "7.0.15". */
  version: string;
  /** True on Redis >= 7: sharded pub/sub (SSUBSCRIBE/SPUBLISH) is used. */
  sharded: boolean;
}

export interface ConnectOptions {
  /** `redis://` or `rediss://` URL (may carry a password; never logged). */
  url: string;
  /** Client name shown by `CLIENT LIST`, e.g. "switchboard:broker". */
  name: string;
  /** Command timeout (ms): a hung server answers with an error instead of never. Default 5000. */
  commandTimeoutMs?: number;
  /** Connection attempt timeout at start-up (ms). Default 5000. */
  connectTimeoutMs?: number;
}

/** Where a Redis URL points, without credentials (safe to log). */
export function redisTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 6379}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
  } catch {
    return '(unparsable redis URL)';
  }
}

/**
 * Opens a client that fails fast while Redis is unreachable: no offline queue, in-flight
 * commands rejected when the connection drops (never silently re-sent, so a publish is never
 * executed twice behind the caller's back), reconnects forever with a capped backoff.
 * Resolves once connected; rejects (with a message naming host:port) when the first
 * connection fails.
 */
export async function connectRedis(o: ConnectOptions): Promise<RedisConnection> {
  const redis = new Redis(o.url, {
    lazyConnect: true,
    connectionName: o.name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: true,
    commandTimeout: o.commandTimeoutMs ?? 5000,
    connectTimeout: o.connectTimeoutMs ?? 5000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000),
  });
  // Errors surface through rejected commands and the close/ready events; an unhandled
  // 'error' event must not crash the process during an outage.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot connect to Redis at ${redisTarget(o.url)}: ${(err as Error).message}`);
  }
  const info = await redis.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '0.0.0';
  return { redis, version, sharded: Number(version.split('.')[0]) >= 7 };
}

/** Quits politely, or drops the socket when Redis is unreachable. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}
