import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Broker, ControlMessage } from '../broker/broker.ts';
import type { Hub } from '../hub.ts';
import type { ResolvedChannel } from '../channels.ts';
import { isAuthenticated, type AuthenticatedConnection, type Connection } from '../connection/connection.ts';
import type { UnavailableReporter } from '../unavailable.ts';
import type { PresenceStore, PresenceUser } from './presence-store.ts';
import { unavailableReporter } from '../unavailable.ts';
import { EncodedOnce, type ServerEvent } from '../connection/protocol.ts';

type PresenceEvent = Extract<ControlMessage, { type: 'presence' }>;

interface Tracked {
  presence: boolean;
  joinLeave: boolean;
  /** Who the connection is in this channel's presence (its own user unless the subscription named a member). */
  user: string;
  /** Settles once the join is in the store and announced: the leave follows it. */
  joined: Promise<void>;
  /** The join was announced (a leave is announced only then). */
  announced: boolean;
  /** It made the connection a watcher of every user's online/offline. */
  watcher: boolean;
}

/**
 * Keeps the presence store in step with this node's connections and announces changes.
 *
 * - Channel presence: a connection subscribed to a channel whose namespace has `presence`
 *   is in the store; with `joinLeave`, the channel's other subscribers (every node) get
 *   `join`/`leave` for it.
 * - User presence: `online` when a user's first connection authenticates, `offline` once
 *   its last connection has been gone for `presence.offlineGraceMs` (a reload does not
 *   flap). Both go to the connections that watch presence: those subscribed to at least
 *   one channel of a presence-enabled namespace, on every node.
 */
export class PresenceTracker {
  private readonly config: Config;
  private readonly store: PresenceStore;
  private readonly broker: Broker;
  private readonly hub: Hub;
  private readonly log: Logger;
  /** connection → the channels it is tracked in. */
  private readonly tracked = new Map<Connection, Map<string, Tracked>>();
  /** Connections with at least one presence-enabled channel: they receive online/offline. */
  private readonly watchers = new Map<Connection, number>();
  /** user → connections watching that user alone (a Pusher watchlist), and the reverse. */
  private readonly watching = new Map<string, Set<Connection>>();
  private readonly watchlists = new Map<Connection, readonly string[]>();
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();

  /** Called on the one node that announces a user online or offline (webhooks). */
  private readonly onUserEvent: ((event: 'online' | 'offline', user: string) => void) | undefined;
  /**
   * Called on the one node whose connection made it: a user's first connection joined a
   * presence channel (`added`), or its last one there left (`removed`), as the store decided.
   */
  private readonly onMember: ((event: 'added' | 'removed', channel: string, user: string) => void) | undefined;
  /** Called when this node's first connection of a user authenticated (`up`) or its last one closed (`down`). */
  private readonly onLocalUser: ((event: 'up' | 'down', user: string) => void) | undefined;

  private readonly failures: UnavailableReporter;

  constructor(o: {
    config: Config; store: PresenceStore; broker: Broker; hub: Hub; log: Logger; failures: UnavailableReporter;
    onUserEvent?: (event: 'online' | 'offline', user: string) => void;
    onLocalUser?: (event: 'up' | 'down', user: string) => void;
    onMember?: (event: 'added' | 'removed', channel: string, user: string) => void;
  }) {
    this.onMember = o.onMember;
    this.onUserEvent = o.onUserEvent;
    this.onLocalUser = o.onLocalUser;
    this.config = o.config;
    this.store = o.store;
    this.broker = o.broker;
    this.hub = o.hub;
    this.log = o.log;
    this.failures = o.failures;
  }

  /**
   * Who is subscribed to a channel of a presence-enabled namespace, on every node: one
   * entry per user with its public info and how many of its connections are subscribed.
   * A store failure rejects with a temporary error.
   */
  members(channel: string): Promise<Record<string, PresenceUser>> {
    return this.store.get(channel).catch((err) => {
      throw this.failures.unavailable(err, 'presence');
    });
  }

  /** A connection authenticated. */
  connected(conn: AuthenticatedConnection): void {
    const user = conn.user;
    if (this.hub.connectionsOf(user).size === 1) this.onLocalUser?.('up', user);
    this.store.userUp(user, conn.id).then((first) => {
      if (!first) return;
      this.onUserEvent?.('online', user);
      return this.broker.publishControl({ type: 'user_event', event: 'online', user });
    }).catch((err) => unavailableReporter(this.log).report(err, 'presence userUp'));
  }

  /**
   * A subscription was acknowledged. `member`: who the connection is in this channel's
   * presence when the protocol names members per channel (else its identity's user and info).
   */
  joined(conn: AuthenticatedConnection, ch: ResolvedChannel, member?: { user: string; info?: unknown }): void {
    const { presence, joinLeave } = ch.options;
    if (!presence && !joinLeave) return;
    let chans = this.tracked.get(conn);
    if (!chans) this.tracked.set(conn, (chans = new Map()));
    if (chans.has(ch.name)) return;
    const id = conn.identity;
    const user = member?.user ?? id.user;
    const infoOf = member ? member.info : id.info;
    const info = infoOf !== undefined ? { info: infoOf } : {};
    const join = { type: 'presence', event: 'join', channel: ch.name, user, client: conn.id, ...info } as const;
    if (!presence) {
      chans.set(ch.name, { presence, joinLeave, user, joined: Promise.resolve(), announced: true, watcher: false });
      this.announce(join);
      return;
    }
    // A protocol that names members per channel (Pusher) watches users by its watchlist, not all of them.
    if (!member) this.watchers.set(conn, (this.watchers.get(conn) ?? 0) + 1);
    const t: Tracked = { presence, joinLeave, user, joined: Promise.resolve(), announced: false, watcher: !member };
    chans.set(ch.name, t);
    t.joined = this.store.add(ch.name, { client: conn.id, user, ...info }).then((first) => {
      // Unsubscribed (or closed) while the store was written: `left` takes it out, nobody hears of it.
      if (this.tracked.get(conn)?.get(ch.name) !== t) return;
      t.announced = true;
      if (first) this.onMember?.('added', ch.name, user);
      if (joinLeave) this.announce({ ...join, first });
    }, (err) => {
      unavailableReporter(this.log).report(err, 'presence add');
      if (!joinLeave) return;
      t.announced = true;
      this.announce(join);
    });
  }

  /**
   * The connection's presence info in a channel it is in changed (`presence_update`): stored
   * (after its join, so a `presence` answer shows it cluster-wide) and, with `joinLeave`,
   * announced to the channel's subscribers on every node as `update`. False when the
   * connection is not in the channel's presence. A store failure rejects with a temporary error.
   */
  async update(conn: AuthenticatedConnection, channel: string, info: unknown): Promise<boolean> {
    const t = this.tracked.get(conn)?.get(channel);
    if (!t || !t.presence) return false;
    await t.joined;
    if (this.tracked.get(conn)?.get(channel) !== t) return false;
    await this.store.add(channel, { client: conn.id, user: t.user, ...(info !== null ? { info } : {}) }).catch((err) => {
      throw this.failures.unavailable(err, 'presence');
    });
    if (t.joinLeave && this.tracked.get(conn)?.get(channel) === t) {
      this.announce({ type: 'presence', event: 'update', channel, user: t.user, client: conn.id, info });
    }
    return true;
  }

  /** A subscription ended (unsubscribe). */
  left(conn: AuthenticatedConnection, channel: string): void {
    const chans = this.tracked.get(conn);
    const t = chans?.get(channel);
    if (!chans || !t) return;
    chans.delete(channel);
    if (chans.size === 0) this.tracked.delete(conn);
    const leave = { type: 'presence', event: 'leave', channel, user: t.user, client: conn.id } as const;
    if (!t.presence) {
      if (t.joinLeave) this.announce(leave);
      return;
    }
    if (t.watcher) {
      const n = (this.watchers.get(conn) ?? 1) - 1;
      if (n > 0) this.watchers.set(conn, n);
      else this.watchers.delete(conn);
    }
    // After the join settled: the leave never overtakes it (nor its store write).
    void t.joined.then(() => this.store.remove(channel, conn.id)).then((last) => {
      if (!t.announced) return;
      if (last) this.onMember?.('removed', channel, t.user);
      if (t.joinLeave) this.announce({ ...leave, last });
    }, (err) => {
      unavailableReporter(this.log).report(err, 'presence remove');
      if (t.announced && t.joinLeave) this.announce(leave);
    });
  }

  /** The connection is gone (call before the hub forgets its subscriptions). */
  disconnected(conn: Connection): void {
    if (!isAuthenticated(conn)) return;
    const chans = this.tracked.get(conn);
    if (chans) for (const channel of [...chans.keys()]) this.left(conn, channel);
    this.watchers.delete(conn);
    this.unwatch(conn);
    if (!this.hub.clients.has(conn.id) || conn.identity.guest) return;
    const user = conn.identity.user;
    // Still in the hub: the user's last local connection is this one.
    if (this.hub.connectionsOf(user).size === 1) this.onLocalUser?.('down', user);
    this.store.userDown(user, conn.id).then((left) => {
      if (left === 0) this.startGrace(user);
    }).catch((err) => unavailableReporter(this.log).report(err, 'presence userDown'));
  }

  /** Delivers a join/leave to this node's subscribers of the channel (not to the client it is about). */
  deliverPresenceEvent(msg: PresenceEvent): void {
    const subs = this.hub.subscribers(msg.channel);
    if (!subs) return;
    const event: ServerEvent = msg.event === 'join'
      ? { type: 'join', channel: msg.channel, user: msg.user, client: msg.client, ...(msg.info !== undefined ? { info: msg.info } : {}), ...(msg.first !== undefined ? { first: msg.first } : {}) }
      : msg.event === 'update'
        ? { type: 'update', channel: msg.channel, user: msg.user, client: msg.client, info: msg.info ?? null }
        : { type: 'leave', channel: msg.channel, user: msg.user, client: msg.client, ...(msg.last !== undefined ? { last: msg.last } : {}) };
    sendToEach(subs.keys(), event, msg.client);
  }

  /** Delivers online/offline to this node's presence watchers and to the connections watching that user. */
  deliverUserEvent(event: 'online' | 'offline', user: string): void {
    const some = this.watching.size === 0 ? undefined : this.watching.get(user);
    if (this.watchers.size === 0 && !some) return;
    const all = some ? new Set([...this.watchers.keys(), ...some]) : this.watchers.keys();
    sendToEach(all, { type: event, user });
  }

  /**
   * A connection watches these users (a Pusher watchlist): it gets their online/offline
   * from now on (whatever its channels), until it closes. Resolves with those of them online
   * now. A store failure rejects with a temporary error.
   */
  async watch(conn: AuthenticatedConnection, users: readonly string[]): Promise<string[]> {
    this.unwatch(conn);
    if (users.length === 0 || conn.state === 'closed') return [];
    this.watchlists.set(conn, users);
    for (const user of users) {
      let set = this.watching.get(user);
      if (!set) this.watching.set(user, (set = new Set()));
      set.add(conn);
    }
    return this.store.online(users).catch((err) => {
      throw this.failures.unavailable(err, 'presence');
    });
  }

  private unwatch(conn: Connection): void {
    const users = this.watchlists.get(conn);
    if (!users) return;
    this.watchlists.delete(conn);
    for (const user of users) {
      const set = this.watching.get(user);
      if (set?.delete(conn) && set.size === 0) this.watching.delete(user);
    }
  }

  /** Stops pending offline timers (node shutdown). */
  close(): void {
    for (const t of this.graceTimers.values()) clearTimeout(t);
    this.graceTimers.clear();
  }

  /** (Re)starts the user's grace: it always runs a full grace after the latest last-connection loss. */
  private startGrace(user: string): void {
    clearTimeout(this.graceTimers.get(user));
    const settle = () => {
      this.graceTimers.delete(user);
      this.store.settleOffline(user).then((gone) => {
        if (!gone) return;
        this.onUserEvent?.('offline', user);
        return this.broker.publishControl({ type: 'user_event', event: 'offline', user });
      }).catch((err) => unavailableReporter(this.log).report(err, 'presence settleOffline'));
    };
    const t = setTimeout(settle, this.config.presence.offlineGraceMs);
    t.unref();
    this.graceTimers.set(user, t);
  }

  private announce(msg: PresenceEvent): void {
    this.broker.publishControl(msg).catch((err) => unavailableReporter(this.log).report(err, 'presence announce'));
  }
}

/** Sends an event to each connection (but `except`), encoded once per wire protocol. */
function sendToEach(conns: Iterable<Connection>, event: ServerEvent, except?: string): void {
  const frames = new EncodedOnce((e) => e.event(event));
  for (const conn of conns) {
    if (conn.id === except) continue;
    const frame = frames.for(conn.encoder);
    if (frame !== undefined) conn.enqueue(frame);
  }
}
