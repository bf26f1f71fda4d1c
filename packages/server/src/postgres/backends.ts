import { hostname } from 'node:os';
import type { Logger } from '../logger.ts';
import type { Stores } from '../store-set.ts';
import type { NodeInfo } from '../cluster/node-directory.ts';
import { PostgresBroker } from '../broker/postgres-broker.ts';
import { PostgresHistoryStore } from '../history/postgres-history-store.ts';
import { PostgresSessionStore } from '../session/postgres-session-store.ts';
import { PostgresLoginRegistry } from '../session/postgres-login-registry.ts';
import { PostgresPresenceStore } from '../presence/postgres-presence-store.ts';
import { PostgresAccessStore } from '../access/postgres-access-store.ts';
import { PostgresServerSubscriptionStore } from '../subscriptions/postgres-server-subscription-store.ts';
import { PostgresWebhookOutbox } from '../webhooks/postgres-webhook-outbox.ts';
import { PostgresOccupancy } from '../webhooks/postgres-occupancy.ts';
import { PostgresNodeDirectory } from '../cluster/postgres-node-directory.ts';
import { createPool, endPool, PgNames, pgTarget, type PgTarget } from './connect.ts';
import { migrate } from './migrations.ts';
import { COMPONENTS } from './schema.ts';
import { PgNodeLiveness } from './liveness.ts';
import { newNodeId } from '../cluster/node-id.ts';

/**
 * Migrates the database (versioned, see `migrate`) and answers the schema the tables live in
 * (for the notification channel names). Connection failures say where it tried to connect.
 */
export async function preparePostgres(target: PgTarget, log?: Logger): Promise<string> {
  const pool = createPool({ ...target, name: 'switchboard:migrate', max: 1, ...(log ? { log } : {}) });
  try {
    await migrate(pool, COMPONENTS, { ...(target.schema !== undefined ? { schema: target.schema } : {}), ...(log ? { log } : {}) });
    const { rows } = await pool.query<{ s: string }>('SELECT current_schema() AS s');
    return rows[0]!.s;
  } catch (err) {
    throw new Error(`postgres: cannot prepare the database at ${pgTarget(target.url)}: ${(err as Error).message}`);
  } finally {
    await endPool(pool);
  }
}

/**
 * Cluster mode on PostgreSQL alone: the broker (LISTEN/NOTIFY) and every store on one
 * database, migrated at start. Connections are pooled per purpose, so a burst of history
 * appends never waits behind presence or session queries: history, broker, sessions and the
 * other small stores, and the cluster's shared state (liveness, presence, logins, webhooks,
 * directory). The broker also keeps one dedicated LISTEN connection. Stores do not end the
 * pools: `close` does, after the node closed its stores.
 */
export async function createPostgresBackends(url: string, log?: Logger, o: { schema?: string; nodeId?: string } = {}): Promise<Stores> {
  const target: PgTarget = { url, ...(o.schema !== undefined ? { schema: o.schema } : {}) };
  const schema = await preparePostgres(target, log);
  const names = new PgNames(schema);
  const withLog = log ? { log } : {};
  const pool = (name: string, max: number) => createPool({ ...target, name: `switchboard:${name}`, max, ...withLog });
  const pools = { history: pool('history', 4), broker: pool('broker', 2), stores: pool('stores', 4), cluster: pool('cluster', 4) };
  // This node's id: its broker address, its liveness row, directory entry and occupancy.
  const id = o.nodeId ?? newNodeId();
  let self: (() => NodeInfo) | undefined;
  const liveness = new PgNodeLiveness({ pool: pools.cluster, id, ...withLog, info: () => (self ? JSON.stringify(self()) : null) });
  // Users of a dead node: a surviving node announces them offline (once, cluster-wide).
  let announceOffline: ((user: string) => void) | undefined;
  const shared = { owns: false } as const;
  let broker: PostgresBroker | undefined;
  log?.info({ postgres: pgTarget(url), schema }, 'cluster mode: connected to PostgreSQL');
  return {
    history: new PostgresHistoryStore({ pool: pools.history, ...shared, publish: names }),
    sessions: new PostgresSessionStore({ pool: pools.stores, ...shared }),
    access: new PostgresAccessStore({ pool: pools.stores, ...shared }),
    subscriptions: new PostgresServerSubscriptionStore({ pool: pools.stores, ...shared }),
    broker: (handler) => (broker = new PostgresBroker(handler, { pool: pools.broker, ...shared, target, names, nodeId: id, ...withLog })),
    // Not ready while the broker may miss notifications (its LISTEN connection is down).
    probe: async () => {
      if (broker?.degraded) throw new Error('the broker is restoring its LISTEN connection to PostgreSQL');
    },
    presence: new PostgresPresenceStore({ pool: pools.cluster, ...shared, liveness, ...withLog, onUserExpired: (user) => announceOffline?.(user) }),
    logins: new PostgresLoginRegistry({ pool: pools.cluster, ...shared, liveness }),
    webhookOutbox: new PostgresWebhookOutbox({ pool: pools.cluster, ...shared }),
    occupancy: new PostgresOccupancy({ pool: pools.cluster, liveness, ...withLog }),
    directory(node) {
      const startedAt = Date.now();
      self = () => ({ id, name: hostname(), pid: process.pid, uptimeMs: Date.now() - startedAt, ...node.stats() });
      announceOffline = (user) => {
        node.userExpired(user);
        node.publishControl({ type: 'user_event', event: 'offline', user }).catch((err) => log?.warn({ err }, 'presence: offline announce failed'));
      };
      return new PostgresNodeDirectory({
        pool: pools.cluster, liveness, self, ...withLog,
        channels: () => node.channels(),
        channelsVersion: () => node.channelsVersion(),
      });
    },
    async close() {
      await liveness.stop();
      await Promise.all(Object.values(pools).map(endPool));
    },
  };
}
