import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Node } from '../node.ts';
import type { AuthenticatedConnection } from '../connection/connection.ts';
import type { Operations } from '../api/operations.ts';
import { NodeOperations } from '../api/node-operations.ts';
import { readiness } from '../health.ts';
import { connectRedis } from '../redis/connect.ts';
import { RedisKeys } from '../redis/keys.ts';
import type { AdminStore } from './admin-store.ts';
import { MemoryAdminStore } from './memory-admin-store.ts';
import { RedisAdminStore } from './redis-admin-store.ts';
import { PostgresAdminStore } from './postgres-admin-store.ts';
import { createPool } from '../postgres/connect.ts';
import { StatsSampler } from './stats-sampler.ts';
import { NodeQueries } from './node-queries.ts';
import { AdminAuth } from './admin-auth.ts';
import { loadAdminAssets } from './assets.ts';
import type { AdminPluginOptions } from './admin-plugin.ts';
import type { OutboxLag } from '../outbox/outbox.ts';
import { MAX_VIEW_CHANNELS, type ConnectionQuery, type ConnectionView } from './connection-view.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The admin UI's parts on one node. */
export interface Admin {
  readonly nodeId: string;
  readonly store: AdminStore;
  readonly sampler: StatsSampler;
  readonly queries: NodeQueries;
  /** What `adminPlugin` needs; undefined when this node serves no admin page (no password). */
  readonly plugin: AdminPluginOptions | undefined;
  close(): Promise<void>;
}

/** A connection as the admin UI shows it. */
function viewOf(conn: AuthenticatedConnection, nodeId: string): ConnectionView {
  const channels: string[] = [];
  for (const ch of conn.subscriptions.keys()) {
    if (channels.length >= MAX_VIEW_CHANNELS) break;
    channels.push(ch);
  }
  const ua = conn.upgrade.userAgent;
  return {
    client: conn.id, user: conn.user, node: nodeId, transport: conn.transport.kind ?? 'websocket', ip: conn.upgrade.ip,
    since: conn.connectedAt, anonymous: conn.identity.anonymous, channels, channelCount: conn.subscriptions.size,
    ...(ua !== undefined ? { userAgent: ua.slice(0, 200) } : {}),
  };
}

/** This node's authenticated connections for a query: a user's, or the newest `limit`. */
function localConnections(node: Node, nodeId: string, q: ConnectionQuery): ConnectionView[] {
  const conns = q.user !== undefined ? [...node.hub.connectionsOf(q.user)] : [...node.hub.clients.values()].slice(-q.limit);
  return conns.slice(0, q.limit).map((c) => viewOf(c, nodeId));
}

/**
 * Wires the admin UI on a node: the admin store (Redis in cluster mode, on its own
 * connection), the stats sampler, cross-node queries and, with `admin.password` set, the
 * login and page. In cluster mode every node samples and answers queries, password or not,
 * so any node's page shows the whole cluster; on one node without a password nothing runs.
 */
export async function createAdmin(o: { config: Config; node: Node; metrics: Metrics; log: Logger; operations?: Operations; outboxLag?: () => Promise<OutboxLag> }): Promise<Admin | undefined> {
  const { config, node, metrics, log } = o;
  if (!config.admin.password && !config.redis && !config.postgres) return undefined;
  const store: AdminStore = config.redis
    ? new RedisAdminStore({ connection: await connectRedis({ url: config.redis, name: 'switchboard:admin' }), keys: new RedisKeys() })
    : config.postgres
      ? new PostgresAdminStore({ pool: createPool({ url: config.postgres, name: 'switchboard:admin', max: 2, log }) })
      : new MemoryAdminStore();
  const nodeId = node.id;
  let lastWarn = 0;
  const sampler = new StatsSampler({
    store,
    header: { id: nodeId, name: hostname(), pid: process.pid, version: VERSION, startedAt: Date.now(), broker: config.redis ? 'redis' : config.postgres ? 'postgres' : config.nats ? 'nats' : 'memory' },
    source: {
      gauges: () => ({ connections: node.connections.size, users: node.hub.stats.users, channels: node.hub.stats.channels, subscriptions: node.hub.stats.subscriptions }),
      counters: () => ({ publications: metrics.publications, deliveries: metrics.messagesOut, bytesIn: metrics.bytesIn, bytesOut: metrics.bytesOut, errors: metrics.errorReplies }),
      errorCodes: () => metrics.errorRepliesByCode,
      latency: () => metrics.deliveryLatency(),
      status: async () => {
        const r = await readiness(node, 1000);
        return r.ready ? 'ok' : r.reason === 'draining' ? 'draining' : 'stores or broker unreachable';
      },
    },
    onError: (err) => {
      if (Date.now() - lastWarn < 60_000) return;
      lastWarn = Date.now();
      log.warn({ err: (err as Error).message }, 'admin: stats report failed');
    },
  });
  const queries = new NodeQueries({
    requests: node.requests,
    local: (q) => localConnections(node, nodeId, q),
    localEvents: (since) => node.events.since(0).filter((e) => e.t > since),
    liveNodes: () => store.nodeIds(),
  });
  sampler.start();
  const password = config.admin.password;
  const plugin: AdminPluginOptions | undefined = password
    ? {
      auth: new AdminAuth({ password, store, sessionTtlMs: config.admin.sessionTtl, attemptsPerMinute: config.admin.loginAttemptsPerMinute }),
      assets: loadAdminAssets(),
      ops: o.operations ?? new NodeOperations(node),
      store, queries, intervalMs: sampler.intervalMs, log, secureCookie: config.tls !== null,
      ...(o.outboxLag ? { outboxLag: o.outboxLag } : {}),
    }
    : undefined;
  if (plugin && !plugin.assets) log.warn('admin: the UI is not built (node packages/server/admin-ui/build.ts); /admin/ says so');
  return {
    nodeId, store, sampler, queries, plugin,
    async close() {
      await sampler.stop();
      await store.close();
    },
  };
}
