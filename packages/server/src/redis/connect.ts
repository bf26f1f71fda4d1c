import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisUrl, redisTarget, type RedisTopology } from './url.ts';

export { redisTarget } from './url.ts';

/** One Redis server (also behind Sentinel) or a Redis Cluster: the same command API. */
export type RedisClient = Redis | Cluster;

/** A connected Redis client and what the server supports. */
export interface RedisConnection {
  redis: RedisClient;
  /** `redis_version` reported by the server at connect time, e.g. "7.0.15". */
  version: string;
  /** True on Redis >= 7: sharded pub/sub (SSUBSCRIBE/SPUBLISH) is used. */
  sharded: boolean;
  /** Which topology the URL named. */
  topology: RedisTopology['kind'];
}

export interface ConnectOptions {
  /** A `redis` URL (`redis://`, `redis+cluster://`, `redis+sentinel://`; may carry a password, never logged). */
  url: string;
  /** Client name shown by `CLIENT LIST`, e.g. "switchboard:broker". */
  name: string;
  /** Command timeout (ms): a hung server answers with an error instead of never. Default 5000. */
  commandTimeoutMs?: number;
  /** Connection attempt timeout at start-up (ms). Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Commands issued in the same event-loop turn go out in one write (ioredis
   * auto-pipelining): many concurrent publishes cost one round trip instead of one each.
   * Default true.
   */
  autoPipelining?: boolean;
}

const backoff = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000);

/** ioredis options shared by every topology: fail fast, never re-send behind the caller's back. */
function common(o: ConnectOptions): RedisOptions {
  return {
    lazyConnect: true,
    connectionName: o.name,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: true,
    commandTimeout: o.commandTimeoutMs ?? 5000,
    connectTimeout: o.connectTimeoutMs ?? 5000,
  };
}

function createClient(t: RedisTopology, o: ConnectOptions): RedisClient {
  const autoPipelining = o.autoPipelining ?? true;
  switch (t.kind) {
    case 'standalone':
      return new Redis(t.url, { ...common(o), enableOfflineQueue: false, enableAutoPipelining: autoPipelining, retryStrategy: backoff });
    case 'sentinel':
      return new Redis({
        ...common(o), enableOfflineQueue: false, enableAutoPipelining: autoPipelining, retryStrategy: backoff,
        sentinels: t.sentinels, name: t.master, db: t.db,
        ...(t.username ? { username: t.username } : {}), ...(t.password ? { password: t.password } : {}),
        ...(t.sentinelUsername ? { sentinelUsername: t.sentinelUsername } : {}), ...(t.sentinelPassword ? { sentinelPassword: t.sentinelPassword } : {}),
        ...(t.tls ? { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
        // No failover detector (+switch-master): ioredis' detector can end a client for good
        // when the message arrives while that client is reconnecting (its connector is told to
        // disconnect mid-connect, the attempt fails "Connection is closed." and the client is
        // never retried). The client finds the new primary by itself: a dead primary refuses
        // the reconnect attempts (the sentinels are asked again at each, every 2 s at most),
        // and a primary demoted while alive answers writes READONLY, which reconnects.
        reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 1 : false),
        sentinelRetryStrategy: backoff,
      });
    case 'cluster': {
      const { lazyConnect: _l, ...redisOptions } = common(o);
      const options: ClusterOptions = {
        lazyConnect: true,
        enableOfflineQueue: false,
        enableAutoPipelining: autoPipelining,
        // A command on a connection that closed may have run: report it (the caller retries
        // with its idempotency key) instead of re-sending it on the new primary.
        retryDelayOnFailover: 0,
        // A node whose connection drops is not redialled (ioredis' default): it leaves the
        // pool, the next command for its slots goes to another primary, whose MOVED answer
        // names the replica promoted in its place (and makes ioredis re-read the slot map).
        // Redialling it instead kept the dead primary in the slot map for good: every command
        // for its slots failed until it came back at the same address.
        // The slot map is also re-read every few seconds: slots that moved while no command
        // went there (a node cut off by a partition, whose connection never drops).
        slotsRefreshInterval: 5000,
        // Reading the slot map (CLUSTER SLOTS) gets as long as a connection attempt: the
        // default 1 s fails start-up on a busy machine.
        slotsRefreshTimeout: o.connectTimeoutMs ?? 5000,
        clusterRetryStrategy: backoff,
        redisOptions: {
          ...redisOptions,
          ...(t.username ? { username: t.username } : {}), ...(t.password ? { password: t.password } : {}),
          ...(t.tls ? { tls: {} } : {}),
        },
      };
      return new Cluster(t.nodes, options);
    }
    default: {
      const never: never = t;
      throw new Error(`unknown Redis topology ${String(never)}`);
    }
  }
}

/**
 * Opens a client that fails fast while Redis is unreachable: no offline queue, in-flight
 * commands rejected when the connection drops (never silently re-sent, so a publish is never
 * executed twice behind the caller's back), reconnects forever with a capped backoff. Behind
 * Sentinel it follows the primary across failovers; on a Redis Cluster it routes each
 * command to its slot's primary and follows slot moves. Resolves once connected; rejects
 * (with a message naming the target, never the password) when the first connection fails.
 */
export async function connectRedis(o: ConnectOptions): Promise<RedisConnection> {
  const topology = parseRedisUrl(o.url);
  const redis = createClient(topology, o);
  // Errors surface through rejected commands and the close/ready events; an unhandled
  // 'error' event must not crash the process during an outage.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot connect to Redis at ${redisTarget(o.url)}: ${(err as Error).message}`);
  }
  try {
    // ioredis opens a node's connection on its first command, and without an offline queue
    // a command to a node still connecting fails: every primary is connected before the
    // first command (their own queues hold the PING). A node found later (a failover)
    // answers its first commands with a temporary error while it connects.
    if (redis instanceof Cluster) await Promise.all(redis.nodes('master').map((n) => n.ping()));
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot connect to every primary of the Redis Cluster at ${redisTarget(o.url)}: ${(err as Error).message}`);
  }
  const info = await redis.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '0.0.0';
  const sharded = Number(version.split('.')[0]) >= 7;
  if (topology.kind === 'cluster' && !sharded) {
    redis.disconnect();
    throw new Error(`Redis Cluster at ${redisTarget(o.url)} runs Redis ${version}: Switchboard needs Redis >= 7 there (sharded pub/sub)`);
  }
  return { redis, version, sharded, topology: topology.kind };
}

/** Quits politely, or drops the socket when Redis is unreachable. */
export async function closeRedis(redis: RedisClient): Promise<void> {
  if (redis.status === 'end') return;
  try {
    if (redis.status === 'ready') await redis.quit();
    else redis.disconnect();
  } catch {
    redis.disconnect();
  }
}
