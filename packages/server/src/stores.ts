import { ConfigError, type Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { Broker, BrokerHandler } from './broker/broker.ts';
import type { HistoryStore } from './history/history-store.ts';
import { MemoryHistoryStore } from './history/memory-history-store.ts';
import { SqliteHistoryStore } from './history/sqlite-history-store.ts';
import { openSqlite } from './sqlite/database.ts';
import type { SessionStore } from './session/session-store.ts';
import { MemorySessionStore } from './session/memory-session-store.ts';
import { SqliteSessionStore } from './session/sqlite-session-store.ts';
import type { PresenceStore } from './presence/presence-store.ts';
import type { LoginRegistry } from './session/login-registry.ts';
import type { AccessStore } from './access/access-store.ts';
import { MemoryAccessStore } from './access/memory-access-store.ts';
import { SqliteAccessStore } from './access/sqlite-access-store.ts';
import type { Node } from './node.ts';
import { createRedisBackends } from './redis/backends.ts';
import type { ServerSubscriptionStore } from './subscriptions/server-subscription-store.ts';
import { SqliteServerSubscriptionStore } from './subscriptions/sqlite-server-subscription-store.ts';
import type { WebhookOutbox } from './webhooks/webhook-outbox.ts';
import { SqliteWebhookOutbox } from './webhooks/sqlite-webhook-outbox.ts';

export interface Stores {
  history: HistoryStore;
  sessions: SessionStore;
  /** Blocks and token revocations (kept across restarts with SQLite and Redis). */
  access: AccessStore;
  /** Releases what the stores share (the SQLite database); call after the stores' own `close`. */
  close(): Promise<void>;
  /** Builds the node's broker; absent: the memory broker (one node). */
  broker?: (handler: BrokerHandler) => Broker;
  /** Cluster-wide presence; absent: the node's memory store. */
  presence?: PresenceStore;
  /** Cluster-wide login registry (single sign-on); absent: the node's memory registry. */
  logins?: LoginRegistry;
  /** Durable webhook outbox; absent: the node's memory outbox. */
  webhookOutbox?: WebhookOutbox;
  /** Persistent server-side subscriptions; absent: the node's memory store. */
  subscriptions?: ServerSubscriptionStore;
  /** Called once the node exists (cluster stores call back into it). */
  attach?(node: Node): void;
}

/**
 * Builds the stores named by `config.storage`: `memory`, `sqlite:<path>` (one database file,
 * opened with `openSqlite`, shared by the history and session stores), or `redis`. With
 * `redis` set (cluster mode) storage must be `redis`: every node must share history and
 * sessions, so a node-local store is refused.
 */
export async function createStores(config: Config, log?: Logger): Promise<Stores> {
  const storage = config.storage;
  if (config.redis) {
    if (storage !== 'redis') {
      throw new ConfigError(`storage: "${storage}" cannot be combined with redis (cluster mode): nodes must share history and sessions; remove storage or set it to "redis"`);
    }
    return createRedisBackends(config.redis, log);
  }
  if (storage === 'memory') return { history: new MemoryHistoryStore(), sessions: new MemorySessionStore(), access: new MemoryAccessStore(), close: async () => {} };
  if (storage.startsWith('sqlite:')) {
    const path = storage.slice('sqlite:'.length);
    let db;
    try {
      db = openSqlite(path);
    } catch (err) {
      throw new ConfigError(`storage: cannot open SQLite database ${path}: ${(err as Error).message}`);
    }
    return {
      history: new SqliteHistoryStore({ db }),
      sessions: new SqliteSessionStore(db),
      access: new SqliteAccessStore(db),
      subscriptions: new SqliteServerSubscriptionStore(db),
      webhookOutbox: new SqliteWebhookOutbox(db),
      close: async () => db.close(),
    };
  }
  throw new ConfigError(`storage: "${storage}" needs the redis setting (SWITCHBOARD_REDIS_URL or --redis redis://…)`);
}
