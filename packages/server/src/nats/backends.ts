import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logger.ts';
import type { Stores } from '../store-set.ts';
import { NatsBroker } from '../broker/nats-broker.ts';
import { JetStreamHistoryStore } from '../history/jetstream-history-store.ts';
import { NatsSessionStore } from '../session/nats-session-store.ts';
import { NatsAccessStore } from '../access/nats-access-store.ts';
import { NatsServerSubscriptionStore } from '../subscriptions/nats-server-subscription-store.ts';
import { NatsPresenceStore } from '../presence/nats-presence-store.ts';
import { NatsLoginRegistry } from '../session/nats-login-registry.ts';
import { CasBucket } from './cas-bucket.ts';
import { NatsLiveness } from './liveness.ts';
import { NatsNodeDirectory } from '../cluster/nats-node-directory.ts';
import { NatsWebhookOutbox } from '../webhooks/nats-webhook-outbox.ts';
import { NatsOccupancy } from '../webhooks/nats-occupancy.ts';
import type { NodeInfo } from '../cluster/node-directory.ts';
import { hostname } from 'node:os';
import { NatsNames } from './names.ts';
import { openBucket } from './kv.ts';

/** The `nats` setting. */
export interface NatsSettings {
  url: string;
  replicas: number;
  credentials: string | null;
  prefix: string;
}

/** What the backends size themselves by. */
export interface NatsBackendOptions {
  nodeId: string;
  /** The largest history `size` of any namespace: what a stream keeps per channel. */
  maxPerChannel: number;
  /** `dedupWindow` (ms): JetStream's duplicate window is at least this. */
  dedupWindowMs: number;
  /** `sessions.idleTtl` (ms): sessions untouched for twice this are removed by the bucket. */
  sessionIdleMs: number;
}

/**
 * Runs `f` until it succeeds, for up to `ms`: at start JetStream may still be electing, or
 * busy with other nodes creating the same streams (its API then times out).
 */
async function patiently<T>(what: string, f: () => Promise<T>, log: Logger | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      if (attempt === 0) log?.warn({ err: (err as Error).message }, `nats: ${what} failed; retrying`);
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2000)));
    }
  }
}

/** The servers of a `nats.url` (`host:port` entries are `nats://host:port`). */
function natsServers(url: string): string[] {
  return url.split(',').map((u) => u.trim()).filter(Boolean);
}

/** Connects to the servers of `s` (reconnecting for ever); the error names the servers, never credentials. */
async function connectNats(s: NatsSettings, name: string): Promise<NatsConnection> {
  const servers = natsServers(s.url);
  try {
    return await connect({
      servers,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // A server cut off by the network (no reset) is given up after ~10 s, not minutes.
      pingInterval: 5000,
      maxPingOut: 2,
      ...(s.credentials ? { authenticator: credsAuthenticator(readFileSync(s.credentials)) } : {}),
    });
  } catch (err) {
    const where = servers.map((u) => u.replace(/\/\/[^@/]*@/, '//')).join(',');
    throw new Error(`nats: cannot connect to ${where}: ${(err as Error).message}`);
  }
}

/**
 * Cluster mode on NATS JetStream: history on replicated streams (`JetStreamHistoryStore`),
 * the broker on NATS (`NatsBroker`, delivering history publications from the streams),
 * sessions, blocks and revocations, server-side subscriptions, presence and live logins in
 * KV buckets (presence and logins changed exactly across nodes with `CasBucket`, counting
 * while their node beats: `NatsLiveness`), the node directory, the webhook outbox and
 * occupancy (each transition's webhook sent once cluster-wide). One connection per node.
 */
export async function createNatsBackends(s: NatsSettings, log: Logger | undefined, o: NatsBackendOptions): Promise<Stores> {
  const nc = await connectNats(s, `switchboard ${o.nodeId}`);
  const names = new NatsNames(s.prefix);
  try {
    const history = new JetStreamHistoryStore({ nc, names, replicas: s.replicas, maxPerChannel: o.maxPerChannel, duplicateWindowMs: Math.max(o.dedupWindowMs, 120_000), publishes: true });
    await patiently('creating the history streams', () => history.prepare(), log);
    const state = patiently('opening the state bucket', () => openBucket(nc, names.bucket('state'), s.replicas), log);
    const sessions = patiently('opening the sessions bucket', () => openBucket(nc, names.bucket('sessions'), s.replicas, o.sessionIdleMs * 2), log);
    const cluster = patiently('opening the cluster bucket', () => openBucket(nc, names.bucket('cluster'), s.replicas), log);
    await Promise.all([state, sessions, cluster]);
    const key = (kind: string) => (k: string) => names.key(kind, k);
    const c = await cluster;
    const cas = new CasBucket(nc, c, names.bucket('cluster'));
    const stateCas = new CasBucket(nc, await state, names.bucket('state'));
    let self: (() => NodeInfo) | undefined;
    const liveness = new NatsLiveness({ kv: c, cas, key: key('n'), id: o.nodeId, info: () => self?.(), ...(log ? { log } : {}) });
    // Users of a dead node: a surviving node announces them offline (once, cluster-wide).
    let announceOffline: ((user: string) => void) | undefined;
    log?.info({ nats: natsServers(s.url).map((u) => u.replace(/\/\/[^@/]*@/, '//')), replicas: s.replicas }, 'cluster mode: connected to NATS JetStream');
    let broker: NatsBroker | undefined;
    const webhookOutbox = new NatsWebhookOutbox({ bucket: cas, key: key('w')('outbox') });
    return {
      webhookOutbox,
      occupancy: new NatsOccupancy({ bucket: cas, kv: c, key: key('o'), liveness, outbox: webhookOutbox, ...(log ? { log } : {}) }),
      history,
      sessions: new NatsSessionStore({ kv: sessions, key: key('s') }),
      access: new NatsAccessStore({ bucket: stateCas, key: key('a') }),
      subscriptions: new NatsServerSubscriptionStore({ bucket: stateCas, key: key('u') }),
      presence: new NatsPresenceStore({ bucket: cas, key: key('p'), liveness, onUserExpired: (user) => announceOffline?.(user), ...(log ? { log } : {}) }),
      logins: new NatsLoginRegistry({ bucket: cas, key: key('l'), liveness }),
      directory(node) {
        announceOffline = (user) => {
          node.userExpired(user);
          node.publishControl({ type: 'user_event', event: 'offline', user }).catch((err) => log?.warn({ err }, 'presence: offline announce failed'));
        };
        const startedAt = Date.now();
        self = () => ({ id: o.nodeId, name: hostname(), pid: process.pid, uptimeMs: Date.now() - startedAt, ...node.stats() });
        return new NatsNodeDirectory({ kv: c, key: key('d'), liveness, self, channels: () => node.channels(), channelsVersion: () => node.channelsVersion(), ...(log ? { log } : {}) });
      },
      broker: (handler) => (broker = new NatsBroker(handler, { nc, names, servers: natsServers(s.url), nodeId: o.nodeId, history: true, ...(log ? { log } : {}) })),
      probe: async () => {
        if (nc.isClosed() || nc.isDraining()) throw new Error('the NATS connection is closed');
        if (!broker) return;
        await nc.flush();
      },
      async close() {
        await liveness.stop(true);
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
