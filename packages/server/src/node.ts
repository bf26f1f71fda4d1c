import { CloseCode, Disconnect, closeReason, type Publication } from '@switchboard/protocol';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { Broker, BrokerHandler, ControlMessage } from './broker/broker.ts';
import type { HistoryStore } from './history/history-store.ts';
import type { SessionStore } from './session/session-store.ts';
import type { LoginRegistry } from './session/login-registry.ts';
import { SingleSignOn } from './session/single-sign-on.ts';
import type { PresenceStore } from './presence/presence-store.ts';
import { PresenceTracker } from './presence/presence-tracker.ts';
import { Connection, type ConnectionHost } from './connection/connection.ts';
import { Outbox } from './connection/outbox.ts';
import type { Transport, UpgradeContext } from './transport/transport.ts';
import type { WireProtocol } from './connection/protocol.ts';
import { Hub } from './hub.ts';
import { DevLenience } from './lenience.ts';
import { ConnectionEventLog } from './presence/connection-events.ts';
import { ChannelResolver, type ResolvedChannel } from './channels.ts';
import { JwtVerifier } from './auth/jwt.ts';
import { BackendHooks } from './auth/hooks.ts';
import { RpcBackend } from './rpc/rpc-backend.ts';
import { Webhooks } from './webhooks/webhooks.ts';
import { MemoryWebhookOutbox } from './webhooks/webhook-outbox.ts';
import type { WebhookSink } from './webhooks/webhook-sink.ts';
import { Heartbeat } from './heartbeat.ts';
import type { NodeDirectory } from './cluster/node-directory.ts';
import type { AccessStore } from './access/access-store.ts';
import { AccessControl } from './access/access-control.ts';
import { Publisher, type PublishMeta, type PublishResult } from './publishing/publisher.ts';
import type { Stores } from './store-set.ts';
import { unavailableReporter, type UnavailableReporter } from './unavailable.ts';
import { Metrics } from './metrics.ts';
import { HistoryReads } from './history/history-reads.ts';
import type { ServerSubscriptionStore } from './subscriptions/server-subscription-store.ts';
import { Subscriptions } from './subscriptions/subscriptions.ts';
import { NodeRequests } from './cluster/node-requests.ts';
import { ControlMessages } from './control-messages.ts';
import type { NodeServices } from './services.ts';
import { TRACING_OFF, type Tracing } from './tracing/tracing.ts';
import type { TracedPublication } from './publishing/publisher.ts';

export interface NodeOptions {
  config: Config;
  log: Logger;
  /** One implementation per port (see `Stores`): history, sessions, access, presence, logins, broker, directory. */
  stores: Omit<Stores, 'close'>;
  /** Prometheus metrics (the server creates one per gateway); a private one when absent. */
  metrics?: Metrics;
  /** Traces (docs/tracing.md); off when absent. */
  tracing?: Tracing;
  /** Webhook destinations of their own format beside `webhooks.url` (a Pusher app's). */
  webhookSinks?: readonly WebhookSink[];
}

export type { PublishMeta, PublishResult } from './publishing/publisher.ts';
export type { NodeServices } from './services.ts';


/**
 * Bytes of publications one subscribe ack or `history` reply carries: `limits.maxReplayBytes`,
 * at most a quarter of `limits.maxQueueBytes` (a reply, the next one and live traffic fit).
 */
function replayBytes(config: Config): number {
  return Math.min(config.limits.maxReplayBytes, Math.floor(config.limits.maxQueueBytes / 4));
}

/**
 * The gateway node: owns the hub, the broker and the stores, and is the only place they
 * meet. Connections call into it; brokers call back into it (`onPublication`, `onControl`).
 */
export class Node implements BrokerHandler {
  /** This node's id in the deployment: its broker address (`Broker.nodeId`). */
  readonly id: string;
  readonly config: Config;
  readonly log: Logger;
  readonly hub = new Hub();
  readonly history: HistoryStore;
  /** Client-facing history reads: bounded in bytes and in how many run at once. */
  readonly historyReads: HistoryReads;
  readonly sessions: SessionStore;
  readonly presenceStore: PresenceStore;
  readonly logins: LoginRegistry;
  /** Blocked users and revoked tokens (server API `block`, `unblock`, `revoke`). */
  readonly access: AccessStore;
  /** Blocks and revocations enforced at authentication and on live connections. */
  readonly accessControl: AccessControl;
  /** Storing and publishing, for clients, the server API and the outbox. */
  readonly publisher: Publisher;
  /** Traces (docs/tracing.md). */
  readonly tracing: Tracing;
  /** What the wire protocols' commands use (see `NodeServices`). */
  readonly services: NodeServices;
  /** What this node does with the control messages of every node. */
  private readonly control: ControlMessages;
  /** Persistent server-side subscriptions (`POST /api/subscribe` with `persist`). */
  readonly serverSubscriptions: ServerSubscriptionStore;
  readonly broker: Broker;
  /**
   * Requests to other nodes' services and this node's services (`serve`): the HTTP
   * transports' relay, the admin UI's cluster-wide queries. Over the broker's control messages.
   */
  readonly requests: NodeRequests;
  /** Single sign-on policy (deployment and namespace login limits). */
  readonly sso: SingleSignOn;
  /** Channel presence, join/leave and online/offline. */
  readonly tracker: PresenceTracker;
  /** Every way a connection is subscribed to a channel: the subscription state machine. */
  readonly subscriptions: Subscriptions;
  readonly channels: ChannelResolver;
  readonly jwt: JwtVerifier;
  readonly metrics: Metrics;
  /** The application backend's connect/subscribe/publish/refresh hooks. */
  readonly hooks: BackendHooks;
  /** Where client `rpc` calls go (`hooks.rpc`). */
  readonly rpc: RpcBackend;
  /** Webhook events (`webhooks`): user online/offline, channel occupied/vacated, publications. */
  readonly webhooks: Webhooks;
  /** Every open connection, authenticated or not. */
  readonly connections = new Set<Connection>();
  /** False once shutdown began: no new connections. */
  accepting = true;
  private readonly heartbeat: Heartbeat;
  /** The deployment's live nodes (cluster mode), for the server API's `info`; undefined on a single node. */
  readonly directory: NodeDirectory | undefined;
  /** Turns store/broker failures into temporary errors, logged at most once a second. */
  readonly failures: UnavailableReporter;
  /** This node's last connection events (joined, left, refused, closed): the admin UI's live view. */
  readonly events = new ConnectionEventLog();
  /** Cluster mode: the backend's own readiness check (`Stores.probe`), asked by `/readyz`. */
  readonly probeBackend: (() => Promise<void>) | undefined;
  /** The write path: every connection's writes of a turn in one pass, with one fan-out encoder. */
  readonly outbox = new Outbox();
  /** What each connection of this node is handed: limits, metrics and the command table. */
  private readonly connectionHost: ConnectionHost;

  constructor(o: NodeOptions) {
    this.config = o.config;
    this.log = o.log;
    this.metrics = o.metrics ?? new Metrics({ processMetrics: false });
    const stores = o.stores;
    this.history = this.metrics.timed('history', stores.history);
    this.historyReads = new HistoryReads({ store: this.history, inFlight: o.config.limits.historyReadsInFlight, maxBytes: replayBytes(o.config) });
    this.sessions = this.metrics.timed('sessions', stores.sessions);
    this.channels = new ChannelResolver(o.config, new DevLenience(o.log));
    this.jwt = new JwtVerifier(o.config.auth);
    this.presenceStore = this.metrics.timed('presence', stores.presence);
    this.logins = this.metrics.timed('logins', stores.logins);
    this.access = this.metrics.timed('access', stores.access);
    this.serverSubscriptions = stores.subscriptions;
    this.tracing = o.tracing ?? TRACING_OFF;
    this.hooks = new BackendHooks({ hooks: o.config.hooks, log: o.log, tracing: this.tracing });
    this.rpc = new RpcBackend({ config: o.config.hooks.rpc, log: o.log });
    this.webhooks = new Webhooks({ config: o.config.webhooks, outbox: stores.webhookOutbox ?? new MemoryWebhookOutbox(), log: o.log, sinks: o.webhookSinks ?? [], tracing: this.tracing,
      offlineGraceMs: o.config.presence.offlineGraceMs, ...(stores.occupancy ? { occupancy: stores.occupancy } : {}),
    });
    this.metrics.setWebhookSource(this.webhooks);
    this.failures = unavailableReporter(o.log);
    this.probeBackend = stores.probe;
    this.broker = this.metrics.timed('broker', stores.broker(this));
    this.id = this.broker.nodeId;
    this.requests = new NodeRequests({ nodeId: this.id, publish: (msg, toNode) => this.broker.publishControl(msg, toNode), log: o.log });
    this.metrics.setSource(() => ({
      connections: this.connections.size, ...this.hub.stats, authenticated: this.hub.stats.clients,
      historyReads: this.historyReads.inFlight, historyReadsWaiting: this.historyReads.queued,
    }));
    this.sso = new SingleSignOn({ config: o.config, registry: this.logins, broker: this.broker, channels: this.channels, log: o.log });
    this.tracker = new PresenceTracker({
      config: o.config, store: this.presenceStore, broker: this.broker, hub: this.hub, log: o.log, failures: this.failures,
      // One node: the presence settlement's events. Cluster: the occupancy store's (`user`).
      onUserEvent: (event, user) => this.webhooks.usersFromPresence && this.webhooks.emit(event === 'online' ? 'user.online' : 'user.offline', { user }),
      onLocalUser: (event, user) => this.webhooks.user(event, user),
      onMember: (event, channel, user) => this.webhooks.emit(event === 'added' ? 'member.added' : 'member.removed', { channel, user }),
    });
    this.accessControl = new AccessControl({ store: this.access, failures: this.failures });
    this.publisher = new Publisher({ history: this.history, broker: this.broker, webhooks: this.webhooks, failures: this.failures, dedupWindowMs: o.config.dedupWindow, tracing: this.tracing });
    this.subscriptions = new Subscriptions({
      config: o.config, hub: this.hub, broker: this.broker, historyReads: this.historyReads, channels: this.channels,
      tracker: this.tracker, sso: this.sso, webhooks: this.webhooks, failures: this.failures,
    });
    this.webhooks.start();
    this.heartbeat = new Heartbeat({ config: o.config, connections: this.connections });
    this.directory = stores.directory?.({
      stats: () => this.hub.stats,
      channels: () => this.localChannels(),
      channelsVersion: () => this.hub.version,
      publishControl: (msg) => this.broker.publishControl(msg),
      userExpired: (user) => this.webhooks.usersFromPresence && this.webhooks.emit('user.offline', { user }),
    });
    this.services = {
      config: o.config, log: o.log, channels: this.channels, jwt: this.jwt, hooks: this.hooks, rpc: this.rpc,
      sessions: this.sessions, historyReads: this.historyReads, sso: this.sso, serverSubscriptions: this.serverSubscriptions,
      tracker: this.tracker, events: this.events, hub: this.hub, subscriptions: this.subscriptions, publisher: this.publisher,
      access: this.accessControl, heartbeat: this.heartbeat, failures: this.failures, tracing: this.tracing,
    };
    this.control = new ControlMessages({ services: this.services, requests: this.requests });
    this.connectionHost = {
      limits: o.config.limits,
      metrics: this.metrics,
      log: o.log,
      outbox: this.outbox,
      closed: (conn, code) => this.onConnectionClosed(conn, code),
    };
  }

  private *localChannels(): Iterable<[string, number]> {
    for (const name of this.hub.channelNames()) yield [name, this.hub.subscribers(name)?.size ?? 0];
  }

  // ---- connections -------------------------------------------------------------------

  /**
   * A new socket speaking `protocol`; the protocol may authenticate at once (protocol v1 does
   * when the upgrade request carried a token).
   */
  openConnection(transport: Transport, upgrade: UpgradeContext, protocol: WireProtocol<Connection>): Connection {
    // The connection keeps its upgrade context for hooks and logs, but not the token: a
    // credential held for the connection's whole life would only cost memory.
    const { token, ...kept } = upgrade;
    const conn = new Connection(this.connectionHost, transport, kept, protocol);
    this.connections.add(conn);
    this.heartbeat.start();
    protocol.opened(conn, { ...(token !== undefined ? { token } : {}), ...(upgrade.session !== undefined ? { session: upgrade.session } : {}) });
    return conn;
  }

  private onConnectionClosed(conn: Connection, code: number): void {
    this.connections.delete(conn);
    this.tracker.disconnected(conn);
    this.sso.disconnected(conn);
    // A session is idle from its last connection's end, not from its last authentication.
    const client = this.hub.clients.get(conn.id);
    if (client === conn && !client.identity.guest) {
      this.sessions.touch(client.identity.session, this.config.sessions.idleTtl).catch((err) => this.failures.report(err, 'session touch'));
    }
    this.subscriptions.connectionClosed(conn);
    if (this.connections.size === 0) this.heartbeat.stop();
    this.metrics.closed(code);
    this.recordClose(conn, code);
    this.log.debug({ client: conn.id, user: conn.user, code }, 'connection closed');
  }

  /** The close in the event log: `left` when it had joined (was admitted: heartbeats scheduled), `refused` when authentication closed it, else `closed`. */
  private recordClose(conn: Connection, code: number): void {
    const kind = conn.nextPingAt !== 0 ? 'left' : code >= 3500 && code < 4000 ? 'refused' : 'closed';
    const user = conn.identity && !conn.identity.guest ? { user: conn.identity.user } : {};
    this.events.record({ kind, client: conn.id, ...user, transport: conn.transport.kind ?? 'websocket', code, reason: closeReason(code) ?? '' });
  }

  // ---- channels ----------------------------------------------------------------------

  /** Resolves a channel name (`bad_request`, `unknown_channel`): the server API's and the tests' door. */
  resolve(channel: unknown): ResolvedChannel {
    return this.channels.resolve(channel);
  }

  // ---- publishing --------------------------------------------------------------------

  /** Publishes to a channel (see `Publisher.publish`): the server API's and the tests' door. */
  publish(ch: ResolvedChannel, data: unknown, meta: PublishMeta = {}): Promise<PublishResult> {
    return this.publisher.publish(ch, data, meta);
  }

  onPublication(channel: string, pub: Publication): void {
    if (this.tracing.enabled && (pub as TracedPublication).traceparent !== undefined) return this.tracedFanout(channel, pub as TracedPublication);
    this.metrics.delivered(this.hub.deliver(channel, pub), pub.ts);
  }

  /** Fan-out as a span of the publication's trace (it came with its `traceparent`, from any node). */
  private tracedFanout(channel: string, traced: TracedPublication): void {
    const { traceparent, ...pub } = traced;
    void this.tracing.span('switchboard fanout', { kind: 'consumer', parent: traceparent, attributes: { 'messaging.destination.name': channel, 'switchboard.node': this.id } }, (span) => {
      const subscribers = this.hub.deliver(channel, pub);
      span.setAttribute('switchboard.subscribers', subscribers);
      this.metrics.delivered(subscribers, pub.ts);
    });
  }

  onControl(msg: ControlMessage): void {
    this.control.handle(msg);
  }

  /**
   * The broker may have lost publications (it was cut off from Redis and is back): every
   * client is told to reconnect (`3000 reconnect`, spread over `shutdown.reconnectSpreadMs`)
   * and recovers what it missed from history with `since`.
   */
  onGap(): void {
    const spread = this.config.shutdown.reconnectSpreadMs;
    for (const conn of [...this.connections]) {
      if (conn.state !== 'ready') continue;
      conn.terminate(new Disconnect(CloseCode.reconnect, 'reconnect', Math.floor(Math.random() * spread)));
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /**
   * Graceful stop: refuses new connections, tells every client to come back after a random
   * delay (`3001 shutdown`, spread so a restart is not stormed), then closes the stores.
   */
  async close(): Promise<void> {
    this.accepting = false;
    const spread = this.config.shutdown.reconnectSpreadMs;
    for (const conn of [...this.connections]) {
      conn.terminate(new Disconnect(CloseCode.shutdown, 'shutdown', Math.floor(Math.random() * spread)));
    }
    this.heartbeat.stop();
    this.failures.close();
    this.requests.close();
    this.rpc.close();
    await this.webhooks.close();
    this.tracker.close();
    await this.broker.close();
    await this.history.close();
    await this.sessions.close();
    await this.presenceStore.close();
    await this.logins.close();
    await this.access.close();
    await this.serverSubscriptions.close();
    await this.directory?.close();
  }
}
