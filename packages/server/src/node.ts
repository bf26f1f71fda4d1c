import {
  CloseCode, Disconnect, ReplyError,
  type FrameId, type Publication, type StreamPosition,
} from '@switchboard/protocol';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { Broker, BrokerHandler, ControlMessage } from './broker/broker.ts';
import type { HistoryStore } from './history/history-store.ts';
import type { SessionStore } from './session/session-store.ts';
import type { LoginRegistry } from './session/login-registry.ts';
import { SingleSignOn } from './session/single-sign-on.ts';
import type { PresenceStore, PresenceUser } from './presence/presence-store.ts';
import { PresenceTracker } from './presence/presence-tracker.ts';
import { Connection, type ConnectionHost } from './connection/connection.ts';
import { Outbox } from './connection/outbox.ts';
import type { CommandContext, PublishMeta, PublishResult, SubscribeResult } from './connection/command-context.ts';
import type { Transport, UpgradeContext } from './transport/transport.ts';
import { EncodedOnce, type WireProtocol } from './connection/protocol.ts';
import { Hub, admit, type Subscription } from './hub.ts';
import { ChannelResolver, type ResolvedChannel } from './channels.ts';
import { JwtVerifier } from './auth/jwt.ts';
import { BackendHooks } from './auth/hooks.ts';
import { RpcBackend } from './rpc/rpc-backend.ts';
import { Webhooks } from './webhooks/webhooks.ts';
import { MemoryWebhookOutbox } from './webhooks/webhook-outbox.ts';
import { Heartbeat } from './heartbeat.ts';
import type { NodeDirectory } from './cluster/node-directory.ts';
import { accessRefusal, type AccessRefusal, type AccessStore } from './access/access-store.ts';
import type { Stores } from './store-set.ts';
import { unavailableReporter, type UnavailableReporter } from './unavailable.ts';
import { Metrics } from './metrics.ts';
import { MAX_DATA_DEPTH, withinDepth } from './json-depth.ts';
import { limited } from './log-limit.ts';
import { readRewind } from './history/rewind.ts';
import { HistoryReads } from './history/history-reads.ts';
import type { ServerSubscriptionStore } from './subscriptions/server-subscription-store.ts';
import { subscribeOnBehalf, unsubscribeOnBehalf } from './subscriptions/server-subscriptions.ts';
import { Subscriptions } from './subscriptions/subscriptions.ts';
import { NodeRequests } from './cluster/node-requests.ts';

export interface NodeOptions {
  config: Config;
  log: Logger;
  /** One implementation per port (see `Stores`): history, sessions, access, presence, logins, broker, directory. */
  stores: Omit<Stores, 'close'>;
  /** Prometheus metrics (the server creates one per gateway); a private one when absent. */
  metrics?: Metrics;
}

export type { PublishMeta, PublishResult, SubscribeResult } from './connection/command-context.ts';

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
export class Node implements BrokerHandler, CommandContext {
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
  /**
   * Counts the block and revoke control messages this node has received. An authentication
   * that read the access store before one arrived checks again once it is in the hub, so a
   * block that raced with it cannot let it through.
   */
  accessChanges = 0;
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
    this.channels = new ChannelResolver(o.config);
    this.jwt = new JwtVerifier(o.config.auth);
    this.presenceStore = this.metrics.timed('presence', stores.presence);
    this.logins = this.metrics.timed('logins', stores.logins);
    this.access = this.metrics.timed('access', stores.access);
    this.serverSubscriptions = stores.subscriptions;
    this.hooks = new BackendHooks({ hooks: o.config.hooks, log: o.log });
    this.rpc = new RpcBackend({ config: o.config.hooks.rpc, log: o.log });
    this.webhooks = new Webhooks({ config: o.config.webhooks, outbox: stores.webhookOutbox ?? new MemoryWebhookOutbox(), log: o.log,
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
      config: o.config, store: this.presenceStore, broker: this.broker, hub: this.hub, log: o.log,
      // One node: the presence settlement's events. Cluster: the occupancy store's (`user`).
      onUserEvent: (event, user) => this.webhooks.usersFromPresence && this.webhooks.emit(event === 'online' ? 'user.online' : 'user.offline', { user }),
      onLocalUser: (event, user) => this.webhooks.user(event, user),
    });
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
    if (this.hub.clients.has(conn.id)) {
      this.sessions.touch(conn.identity!.session, this.config.sessions.idleTtl).catch((err) => this.failures.report(err, 'session touch'));
    }
    this.subscriptions.connectionClosed(conn);
    if (this.connections.size === 0) this.heartbeat.stop();
    this.metrics.closed(code);
    this.log.debug({ client: conn.id, user: conn.user, code }, 'connection closed');
  }

  /** When a newly authenticated connection gets its first ping. */
  heartbeatSchedule(now: number): number {
    return this.heartbeat.schedule(now);
  }

  /**
   * Why the operator refuses this user or token now (block, or a revocation newer than the
   * token's `iat`), or undefined. A store failure rejects with a temporary error.
   */
  async accessRefusal(user: string, issuedAt: number | null | undefined): Promise<AccessRefusal | undefined> {
    const entry = await this.access.get(user).catch((err) => {
      throw this.failures.unavailable(err, 'access check');
    });
    return accessRefusal(entry, issuedAt);
  }

  /** Checks a live connection again (a block or revocation raced with its authentication). */
  recheckAccess(conn: Connection): void {
    const id = conn.identity!;
    this.accessRefusal(id.user, id.issuedAt).then((refusal) => {
      if (refusal) conn.terminate(new Disconnect(CloseCode.blocked, refusal));
    }, () => { /* reported by accessRefusal; the next block or revoke message closes it */ });
  }

  // ---- channels ----------------------------------------------------------------------

  resolve(channel: unknown): ResolvedChannel {
    return this.channels.resolve(channel);
  }

  /**
   * Who is subscribed to a channel of a presence-enabled namespace, on every node: one
   * entry per user with its public info and how many of its connections are subscribed.
   */
  async presence(channel: string): Promise<Record<string, PresenceUser>> {
    return this.presenceStore.get(channel).catch((err) => {
      throw this.failures.unavailable(err, 'presence');
    });
  }

  // ---- publishing --------------------------------------------------------------------

  /**
   * Publishes to a channel: stores it first when the namespace keeps history (the promise
   * resolves only after it is stored), then hands it to the broker for every node.
   * An `id` seen from the same publisher (`meta.from`, else the server API) within the dedup
   * window is acknowledged as a duplicate and not delivered.
   * A store or broker failure rejects with a temporary `ReplyError('internal')`.
   */
  async publish(ch: ResolvedChannel, data: unknown, meta: PublishMeta = {}): Promise<PublishResult> {
    if (!withinDepth(data)) throw new ReplyError('bad_request', `data nests deeper than ${MAX_DATA_DEPTH} levels`);
    try {
      return await this.storeAndPublish(ch, data, meta);
    } catch (err) {
      throw this.failures.unavailable(err, 'publish');
    }
  }

  private async storeAndPublish(ch: ResolvedChannel, data: unknown, meta: PublishMeta): Promise<PublishResult> {
    const base: Publication = { channel: ch.name, data, ts: Date.now() };
    if (meta.from !== undefined) base.from = meta.from;
    if (meta.id !== undefined) base.id = meta.id;
    // Idempotency keys are per publisher: a client's user, or the server API's own space.
    const publisher = meta.from !== undefined ? `u:${meta.from}` : meta.publisher ?? 'api';
    if (ch.history) {
      const options = { ...ch.history, idempotencyKey: meta.id, publisher, dedupWindowMs: this.config.dedupWindow };
      if (this.history.appendAndPublish) {
        // The store published it atomically with storing it (offset order across nodes).
        const r = await this.history.appendAndPublish(ch.name, base, options);
        if (!r.duplicate) this.publicationWebhook(ch, { ...base, epoch: r.epoch, offset: r.offset });
        return { epoch: r.epoch, offset: r.offset, duplicate: r.duplicate };
      }
      const r = await this.history.append(ch.name, base, options);
      if (r.duplicate) return { epoch: r.epoch, offset: r.offset, duplicate: true };
      base.epoch = r.epoch;
      base.offset = r.offset;
      await this.broker.publish(ch.name, base);
      this.publicationWebhook(ch, base);
      return { epoch: r.epoch, offset: r.offset, duplicate: false };
    }
    if (meta.id !== undefined && !(await this.history.claimKey(ch.name, meta.id, this.config.dedupWindow, publisher))) {
      return { duplicate: true };
    }
    await this.broker.publish(ch.name, base);
    this.publicationWebhook(ch, base);
    return { duplicate: false };
  }

  /** A `publication` webhook for namespaces with `publicationWebhooks`. */
  private publicationWebhook(ch: ResolvedChannel, pub: Publication): void {
    if (ch.options.publicationWebhooks) this.webhooks.emit('publication', { channel: ch.name, publication: pub });
  }

  onPublication(channel: string, pub: Publication): void {
    this.metrics.delivered(this.hub.deliver(channel, pub), pub.ts);
  }

  onControl(msg: ControlMessage): void {
    switch (msg.type) {
      case 'disconnect': {
        for (const conn of [...this.hub.connectionsOf(msg.user), ...this.sso.authenticatingOf(msg.user)]) {
          const id = conn.identity!;
          if (msg.session !== undefined && id.session !== msg.session) continue;
          if (msg.login !== undefined && id.login !== msg.login) continue;
          if (msg.exceptClient === conn.id) continue;
          conn.terminate(new Disconnect(msg.code, msg.reason));
        }
        return;
      }
      case 'unsubscribe': {
        for (const conn of [...this.hub.connectionsOf(msg.user)]) unsubscribeOnBehalf(this, conn, msg.channel);
        return;
      }
      case 'subscribe': {
        let ch: ResolvedChannel;
        try {
          ch = this.resolve(msg.channel);
        } catch {
          return; // another node's configuration knows a namespace this one does not
        }
        if (ch.owner !== undefined && ch.owner !== msg.user) {
          // The API refuses it; a node of an older version (or anyone who can write to the broker) may not.
          limited(this.log).warn({ channel: ch.name }, 'server-side subscribe to another user\'s personal channel refused');
          return;
        }
        for (const conn of [...this.hub.connectionsOf(msg.user)]) {
          subscribeOnBehalf(this, conn, ch, msg.persist).catch((err) => this.failures.report(err, 'server-side subscribe'));
        }
        return;
      }
      case 'access': {
        // Written to the access store before it was sent: new authentications read it there.
        this.accessChanges++;
        const rule = msg.action === 'block' ? { blockedUntil: Infinity } : { revokedBefore: msg.before };
        for (const conn of [...this.hub.connectionsOf(msg.user), ...this.sso.authenticatingOf(msg.user)]) {
          const refusal = accessRefusal(rule, conn.identity!.issuedAt);
          if (refusal) conn.terminate(new Disconnect(CloseCode.blocked, refusal));
        }
        return;
      }
      case 'user_event': {
        this.tracker.deliverUserEvent(msg.event, msg.user);
        return;
      }
      case 'presence': {
        this.tracker.deliverPresenceEvent(msg);
        return;
      }
      case 'all': {
        // Server API push `all`: to every authenticated connection here, encoded once per protocol.
        const frames = new EncodedOnce((e) => e.event({ type: 'broadcast', data: msg.data, ts: msg.ts }));
        for (const conn of this.hub.clients.values()) {
          const frame = frames.for(conn.encoder);
          if (frame !== undefined) conn.enqueue(frame);
        }
        return;
      }
      case 'request': {
        this.requests.onRequest(msg);
        return;
      }
      case 'reply': {
        this.requests.onReply(msg);
        return;
      }
      default: {
        const never: never = msg;
        limited(this.log).warn({ type: (never as { type?: unknown }).type }, 'unknown control message');
      }
    }
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
