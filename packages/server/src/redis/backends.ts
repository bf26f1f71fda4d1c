import { hostname } from 'node:os';
import type { Logger } from '../logger.ts';
import { RedisNodeDirectory } from '../cluster/redis-node-directory.ts';
import { RedisBroker } from '../broker/redis-broker.ts';
import { RedisHistoryStore, type ReplicationOptions } from '../history/redis-history-store.ts';
import { RedisSessionStore } from '../session/redis-session-store.ts';
import { RedisLoginRegistry } from '../session/redis-login-registry.ts';
import { RedisPresenceStore } from '../presence/redis-presence-store.ts';
import { RedisAccessStore } from '../access/redis-access-store.ts';
import { RedisServerSubscriptionStore } from '../subscriptions/redis-server-subscription-store.ts';
import { RedisWebhookOutbox } from '../webhooks/redis-webhook-outbox.ts';
import { RedisOccupancy } from '../webhooks/redis-occupancy.ts';
import type { Stores } from '../store-set.ts';
import { connectRedis, closeRedis, redisTarget, type RedisConnection } from './connect.ts';
import { RedisKeys } from './keys.ts';
import { Cluster } from 'ioredis';
import { checkClusterSlots } from './cluster-slots.ts';
import { SentinelFollower } from './sentinel-follower.ts';
import { parseRedisUrl } from './url.ts';
import { unavailableReporter } from '../unavailable.ts';
import { newNodeId } from '../cluster/node-id.ts';

/**
 * Cluster mode: the broker and every store on one Redis (one server, a Sentinel-watched
 * primary, or a Redis Cluster: `connectRedis` reads which from the URL). Each gets its own connection (the
 * subscriber must be dedicated; the others stay independent so a slow script never delays
 * a session look-up). The history store publishes inside its append script, to the pub/sub
 * channels the broker subscribes to. `id` is the node's (its broker address, directory entry
 * and webhook occupancy).
 */
export async function createRedisBackends(url: string, log?: Logger, keys = new RedisKeys(), replication: ReplicationOptions = {}, id = newNodeId()): Promise<Stores> {
  const names = ['broker-pub', 'broker-sub', 'history', 'sessions', 'presence', 'logins', 'nodes', 'access', 'subscriptions', 'webhooks'] as const;
  // Opened together: on a Redis Cluster each one connects to every primary.
  // The subscriber is not auto-pipelined: ioredis keeps SUBSCRIBE out of its auto-pipelines
  // but not SSUBSCRIBE/SUNSUBSCRIBE, which belong on the subscriber connection as they are.
  const settled = await Promise.allSettled(names.map((n) => connectRedis({ url, name: `switchboard:${n}`, autoPipelining: n !== 'broker-sub' })));
  const opened = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(opened.map((c) => closeRedis(c.redis)));
    throw failed.reason;
  }
  const [pub, sub, history, sessions, presenceConn, loginsConn, nodesConn, accessConn, subsConn, hooksConn] = opened as RedisConnection[] as [RedisConnection, RedisConnection, RedisConnection, RedisConnection, RedisConnection, RedisConnection, RedisConnection, RedisConnection, RedisConnection, RedisConnection];
  const withLog = log ? { log } : {};
  // Users of a dead node: a surviving node announces them offline (once, cluster-wide),
  // through the broker of the node that `directory` is built for.
  let announceOffline: ((user: string) => void) | undefined;
  const presence = new RedisPresenceStore({ connection: presenceConn, keys, ...withLog, onUserExpired: (user) => announceOffline?.(user) });
  log?.info({ redis: redisTarget(url), topology: pub.topology, version: pub.version, sharded: pub.sharded }, 'cluster mode: connected to Redis');
  let broker: RedisBroker | undefined;
  // Behind Sentinel: a WAIT that falls short makes the node ask the sentinels again.
  const follower = sentinelFollower(url, history, opened, log);
  return {
    history: new RedisHistoryStore({ connection: history, keys, publish: true, ...replication, ...(follower ? { onShortfall: () => void follower.check() } : {}) }),
    sessions: new RedisSessionStore({ connection: sessions, keys }),
    access: new RedisAccessStore({ connection: accessConn, keys }),
    broker: (handler) => (broker = new RedisBroker(handler, { publisher: pub, subscriber: sub, keys, nodeId: id, ...withLog })),
    // Not ready while the broker may miss publications, nor while a slot has no reachable primary.
    probe: async () => {
      if (broker?.degraded) throw new Error('the broker is restoring its Redis subscriptions');
      if (history.redis instanceof Cluster) await checkClusterSlots(history.redis);
    },
    presence,
    // Each store closes its own connection (the node closes them); nothing is shared.
    close: async () => {},
    logins: new RedisLoginRegistry({ connection: loginsConn, keys, ...withLog }),
    subscriptions: new RedisServerSubscriptionStore({ connection: subsConn, keys }),
    // One outbox for the cluster; occupancy beside it (one slot), on its connection.
    webhookOutbox: new RedisWebhookOutbox({ connection: hooksConn, keys }),
    occupancy: new RedisOccupancy({ connection: hooksConn, keys, node: id, ...withLog }),
    directory(node) {
      const startedAt = Date.now();
      announceOffline = (user) => {
        node.userExpired(user);
        node.publishControl({ type: 'user_event', event: 'offline', user }).catch((err) => log && unavailableReporter(log).report(err, 'presence offline announce'));
      };
      return new RedisNodeDirectory({
        connection: nodesConn, keys, ...withLog,
        self: () => ({ id, name: hostname(), pid: process.pid, uptimeMs: Date.now() - startedAt, ...node.stats() }),
        channels: () => node.channels(),
        channelsVersion: () => node.channelsVersion(),
      });
    },
  };
}

/** Behind Sentinel, the follower that moves every connection of the node to the primary the sentinels name. */
function sentinelFollower(url: string, probe: RedisConnection, connections: RedisConnection[], log: Logger | undefined): SentinelFollower | undefined {
  const t = parseRedisUrl(url);
  if (t.kind !== 'sentinel') return undefined;
  const tls = t.tls ? { tls: {} } : {};
  return new SentinelFollower({
    target: {
      sentinels: t.sentinels, master: t.master,
      sentinelOptions: { ...(t.sentinelUsername ? { username: t.sentinelUsername } : {}), ...(t.sentinelPassword ? { password: t.sentinelPassword } : {}), ...tls },
      primaryOptions: { ...(t.username ? { username: t.username } : {}), ...(t.password ? { password: t.password } : {}), ...tls },
    },
    probe: probe.redis,
    connections: () => connections.map((c) => c.redis),
    ...(log ? { log } : {}),
  });
}
