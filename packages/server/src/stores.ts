import { ConfigError, type Config } from './config.ts';
import type { Logger } from './logger.ts';
import { MemoryBroker } from './broker/memory-broker.ts';
import { MemoryHistoryStore } from './history/memory-history-store.ts';
import { SqliteHistoryStore } from './history/sqlite-history-store.ts';
import { openSqlite } from './sqlite/database.ts';
import { MemorySessionStore } from './session/memory-session-store.ts';
import { SqliteSessionStore } from './session/sqlite-session-store.ts';
import { MemoryPresenceStore } from './presence/memory-presence-store.ts';
import { MemoryLoginRegistry } from './session/memory-login-registry.ts';
import { MemoryAccessStore } from './access/memory-access-store.ts';
import { SqliteAccessStore } from './access/sqlite-access-store.ts';
import { createRedisBackends } from './redis/backends.ts';
import { createPostgresBackends } from './postgres/backends.ts';
import { createNatsBackends } from './nats/backends.ts';
import { MemoryServerSubscriptionStore } from './subscriptions/server-subscription-store.ts';
import { SqliteServerSubscriptionStore } from './subscriptions/sqlite-server-subscription-store.ts';
import type { Stores } from './store-set.ts';
import { SqliteWebhookOutbox } from './webhooks/sqlite-webhook-outbox.ts';
import { newNodeId } from './cluster/node-id.ts';

export type { Stores } from './store-set.ts';

/** The single-node parts: a memory broker, presence, login registry and server-side subscriptions. */
function local(nodeId: string): Pick<Stores, 'broker' | 'presence' | 'logins' | 'subscriptions'> {
  return { broker: (h) => new MemoryBroker(h, { nodeId }), presence: new MemoryPresenceStore(), logins: new MemoryLoginRegistry(), subscriptions: new MemoryServerSubscriptionStore() };
}

/**
 * Builds the stores named by `config.storage`: `memory`, `sqlite:<path>` (one database file,
 * opened with `openSqlite`, shared by the history and session stores), `redis`, `postgres` or `nats`.
 * With `redis` (or `postgres`) set (cluster mode) storage must be that one: every node must
 * share history and sessions, so a node-local store is refused. `nodeId` is the node's
 * address on the broker (`Broker.nodeId`) and its id in the node directory and webhook occupancy.
 */
export async function createStores(config: Config, log?: Logger, nodeId = newNodeId()): Promise<Stores> {
  const storage = config.storage;
  if (config.redis) {
    if (storage !== 'redis') {
      throw new ConfigError(`storage: "${storage}" cannot be combined with redis (cluster mode): nodes must share history and sessions; remove storage or set it to "redis"`);
    }
    return createRedisBackends(config.redis, log, undefined, { waitReplicas: config.redisWaitReplicas, waitTimeoutMs: config.redisWaitTimeout }, nodeId);
  }
  if (config.postgres) {
    if (storage !== 'postgres') {
      throw new ConfigError(`storage: "${storage}" cannot be combined with postgres (cluster mode): nodes must share history and sessions; remove storage or set it to "postgres"`);
    }
    return createPostgresBackends(config.postgres, log, { nodeId });
  }
  if (config.nats) {
    if (storage !== 'nats') {
      throw new ConfigError(`storage: "${storage}" cannot be combined with nats (cluster mode): nodes must share history and sessions; remove storage or set it to "nats"`);
    }
    const sizes = Object.values(config.namespaces).map((n) => n.history?.size ?? 1);
    return createNatsBackends(config.nats, log, { nodeId, maxPerChannel: Math.max(1, ...sizes), dedupWindowMs: config.dedupWindow, sessionIdleMs: config.sessions.idleTtl });
  }
  if (storage === 'memory') return { ...local(nodeId), history: new MemoryHistoryStore(), sessions: new MemorySessionStore(), access: new MemoryAccessStore(), close: async () => {} };
  if (storage.startsWith('sqlite:')) {
    const path = storage.slice('sqlite:'.length);
    let db;
    try {
      db = openSqlite(path);
    } catch (err) {
      throw new ConfigError(`storage: cannot open SQLite database ${path}: ${(err as Error).message}`);
    }
    return {
      ...local(nodeId),
      history: new SqliteHistoryStore({ db }),
      sessions: new SqliteSessionStore(db),
      access: new SqliteAccessStore(db),
      subscriptions: new SqliteServerSubscriptionStore(db),
      webhookOutbox: new SqliteWebhookOutbox(db),
      close: async () => db.close(),
    };
  }
  if (storage === 'postgres') throw new ConfigError('storage: "postgres" needs the postgres setting (SWITCHBOARD_POSTGRES_URL or --postgres postgres://…)');
  if (storage === 'nats') throw new ConfigError('storage: "nats" needs the nats setting (SWITCHBOARD_NATS_URL or --nats nats://host:4222,…)');
  throw new ConfigError(`storage: "${storage}" needs the redis setting (SWITCHBOARD_REDIS_URL or --redis redis://…)`);
}
