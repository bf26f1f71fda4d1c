import type { Publication } from '@switchboard/protocol';
import { admit, type AuthenticatedConnection, type Connection, type Subscription } from './connection/connection.ts';
import { ChannelConflation } from './conflation/channel-conflation.ts';
import { EncodedOnce, type ProtocolEncoder } from './connection/protocol.ts';
import { ChannelDelta } from './delta/channel-delta.ts';

export type { Subscription } from './connection/connection.ts';

/**
 * A channel's local subscribers: the one subscription itself while there is only one (most
 * channels: personal channels, one-to-one rooms), a Map once there are more. An idle
 * connection then costs no Map of its own per channel.
 */
type Subscribers = Subscription | Map<Connection, Subscription>;
/** A user's authenticated local connections: the connection itself while there is only one. */
type UserConnections = AuthenticatedConnection | Set<AuthenticatedConnection>;

/**
 * A connection's subscription records, writable: the hub is where they are kept; everyone
 * else reads them through `Connection.subscriptions` (a ReadonlyMap).
 */
function recordsOf(conn: Connection): Map<string, Subscription> {
  return conn.subscriptions as Map<string, Subscription>;
}

/**
 * The `message` frames of one publication, encoded once per wire protocol among the
 * channel's subscribers (nearly always one: the first subscriber's protocol is served
 * without a lookup).
 */
class PublicationFrames {
  private readonly pub: Publication;
  private encoder: ProtocolEncoder | undefined;
  private frame: Buffer | undefined;
  private others: EncodedOnce | undefined;
  constructor(pub: Publication) {
    this.pub = pub;
  }
  for(e: ProtocolEncoder): Buffer {
    if (e === this.encoder) return this.frame!;
    if (this.encoder === undefined) {
      this.encoder = e;
      return (this.frame = e.publication(this.pub));
    }
    return (this.others ??= new EncodedOnce((x) => x.publication(this.pub))).for(e)!;
  }
}

/** Hands a publication to one subscription: held while it recovers, else queued once admitted. */
function offer(sub: Subscription, pub: Publication, frames: PublicationFrames): void {
  if (pub.except !== undefined && pub.except === sub.conn.id) return;
  if (sub.buffer) {
    sub.buffer.push(pub);
    sub.bufferedBytes = (sub.bufferedBytes ?? 0) + frames.for(sub.conn.encoder).length;
  } else if (admit(sub, pub)) sub.conn.enqueue(frames.for(sub.conn.encoder));
}

/** `offer` on a channel with delta subscribers: they get the delta frame when they are in step. */
function offerDelta(sub: Subscription, pub: Publication, frames: PublicationFrames, d: ChannelDelta): void {
  if (pub.except !== undefined && pub.except === sub.conn.id) return;
  if (sub.buffer) {
    sub.buffer.push(pub);
    sub.bufferedBytes = (sub.bufferedBytes ?? 0) + frames.for(sub.conn.encoder).length;
  } else if (admit(sub, pub)) {
    const full = frames.for(sub.conn.encoder);
    sub.conn.enqueue(sub.delta === undefined ? full : d.frameFor(sub, full));
  }
}

/**
 * `Hub.deliver` on a channel with filtered subscribers: each filter is asked once, before the
 * publication is held or queued; filtered subscriptions carry full data (no delta).
 */
function deliverFiltered(subs: Subscribers, pub: Publication, frames: PublicationFrames, d: ChannelDelta | undefined): number {
  d?.begin(pub);
  let n = 0;
  for (const sub of subs instanceof Map ? subs.values() : [subs]) {
    if (sub.filter !== undefined) {
      if (!sub.filter(pub.tags)) continue;
      offer(sub, pub, frames);
    } else if (d !== undefined) offerDelta(sub, pub, frames, d);
    else offer(sub, pub, frames);
    n++;
  }
  d?.end();
  return n;
}

/**
 * `Hub.deliver` on a conflated channel: held while a subscription recovers (released in full
 * when it goes live), else waiting in the channel's conflation for its next tick.
 */
function deliverConflated(subs: Subscribers, pub: Publication, frames: PublicationFrames, c: ChannelConflation): number {
  let n = 0;
  for (const sub of subs instanceof Map ? subs.values() : [subs]) {
    if (pub.except !== undefined && pub.except === sub.conn.id) continue;
    if (sub.filter !== undefined && !sub.filter(pub.tags)) continue;
    if (sub.buffer) offer(sub, pub, frames);
    else c.hold(sub, pub);
    n++;
  }
  return n;
}

/** `Hub.deliver` on a channel with delta subscribers. */
function deliverDelta(subs: Subscribers, pub: Publication, frames: PublicationFrames, d: ChannelDelta): number {
  d.begin(pub);
  if (!(subs instanceof Map)) offerDelta(subs, pub, frames, d);
  else for (const sub of subs.values()) offerDelta(sub, pub, frames, d);
  d.end();
  return subs instanceof Map ? subs.size : 1;
}

/**
 * This node's connections and local fan-out. Knows nothing of brokers or stores: the node
 * tells it what to deliver and it tells the node when a channel gains its first or loses
 * its last local subscriber.
 */
export class Hub {
  /** channel → its local subscribers and their subscription state. */
  private readonly channels = new Map<string, Subscribers>();
  /** channel → its delta state, while it has local delta subscribers (`Subscription.delta`). */
  private readonly deltas = new Map<string, ChannelDelta>();
  /** channel → how many of its local subscriptions have a filter (`Subscription.filter`); absent: none. */
  private readonly filtered = new Map<string, number>();
  /** channel → its conflation, while it has local subscribers in a conflated namespace. */
  private readonly conflations = new Map<string, ChannelConflation>();
  /** user → that user's authenticated local connections. */
  private readonly users = new Map<string, UserConnections>();
  /** client id → authenticated local connection. */
  readonly clients = new Map<string, AuthenticatedConnection>();
  private subscriptionCount = 0;
  private changes = 0;

  /** An authenticated connection: reachable by id and (unless a guest) by user. */
  addClient(conn: AuthenticatedConnection): void {
    this.clients.set(conn.id, conn);
    if (!conn.identity.guest) this.indexUser(conn);
  }

  /** A guest connection in the hub became a user (`Connection.becomeUser`): reachable by user from now on. */
  userIdentified(conn: AuthenticatedConnection): void {
    if (this.clients.get(conn.id) === conn && !conn.identity.guest) this.indexUser(conn);
  }

  private indexUser(conn: AuthenticatedConnection): void {
    const user = conn.user;
    const had = this.users.get(user);
    if (had === undefined) this.users.set(user, conn);
    else if (had instanceof Set) had.add(conn);
    else if (had !== conn) this.users.set(user, new Set([had, conn]));
  }

  /** Removes a client and its subscriptions (closed); returns the channels whose last local subscriber it was. */
  removeClient(conn: Connection): string[] {
    const emptied: string[] = [];
    for (const channel of [...conn.subscriptions.keys()]) if (this.removeSubscriber(conn, channel)) emptied.push(channel);
    const client = this.clients.get(conn.id);
    if (client === conn && this.clients.delete(conn.id) && !client.identity.guest) {
      const user = client.user;
      const had = this.users.get(user);
      if (had === client) this.users.delete(user);
      else if (had instanceof Set) {
        had.delete(client);
        if (had.size === 1) this.users.set(user, had.values().next().value!);
      }
    }
    return emptied;
  }

  /** Adds a subscription; true when it is the channel's first local subscriber. */
  addSubscriber(sub: Subscription): boolean {
    const { conn, channel } = sub;
    const had = this.channels.get(channel);
    const replaced = conn.subscriptions.get(channel);
    if (replaced !== undefined && replaced !== sub) {
      replaced.state = 'closed';
      if (replaced.delta !== undefined) this.deltaLeft(channel);
      if (replaced.filter !== undefined) this.filterLeft(channel);
    }
    if (sub.delta !== undefined && replaced !== sub) this.deltaJoined(channel);
    if (sub.filter !== undefined && replaced !== sub) this.filtered.set(channel, (this.filtered.get(channel) ?? 0) + 1);
    if (sub.conflation !== undefined && replaced !== sub) {
      let c = this.conflations.get(channel);
      if (c === undefined) this.conflations.set(channel, (c = new ChannelConflation(sub.conflation)));
      c.subscribers++;
    }
    if (replaced !== undefined && replaced !== sub && replaced.conflation !== undefined) this.conflationLeft(channel);
    recordsOf(conn).set(channel, sub);
    if (had === undefined) {
      this.channels.set(channel, sub);
      this.subscriptionCount++;
      this.changes++;
      return true;
    }
    if (had instanceof Map) {
      if (!had.has(conn)) {
        this.subscriptionCount++;
        this.changes++;
      }
      had.set(conn, sub);
    } else if (had.conn === conn) this.channels.set(channel, sub);
    else {
      this.channels.set(channel, new Map([[had.conn, had], [conn, sub]]));
      this.subscriptionCount++;
      this.changes++;
    }
    return false;
  }

  /** Removes a subscription (it is closed for good); true when the channel has no local subscriber left. */
  removeSubscriber(conn: Connection, channel: string): boolean {
    const had = this.channels.get(channel);
    if (had === undefined) return false;
    const sub = had instanceof Map ? had.get(conn) : had.conn === conn ? had : undefined;
    if (sub === undefined) return false;
    sub.state = 'closed';
    sub.buffer = null;
    if (sub.delta !== undefined) this.deltaLeft(channel);
    if (sub.filter !== undefined) this.filterLeft(channel);
    if (sub.conflation !== undefined) this.conflationLeft(channel);
    if (had instanceof Map) {
      had.delete(conn);
      if (had.size === 1) this.channels.set(channel, had.values().next().value!);
    } else this.channels.delete(channel);
    this.subscriptionCount--;
    this.changes++;
    recordsOf(conn).delete(channel);
    return !this.channels.has(channel);
  }

  /** Makes an existing subscription a delta subscription (its next message carries full data). */
  enableDelta(sub: Subscription): void {
    if (sub.delta !== undefined) return;
    sub.delta = -1;
    if (sub.conn.subscriptions.get(sub.channel) === sub) this.deltaJoined(sub.channel);
  }

  private deltaJoined(channel: string): void {
    let d = this.deltas.get(channel);
    if (d === undefined) this.deltas.set(channel, (d = new ChannelDelta()));
    d.subscribers++;
  }

  private conflationLeft(channel: string): void {
    const c = this.conflations.get(channel);
    if (c !== undefined && --c.subscribers === 0) {
      c.stop();
      this.conflations.delete(channel);
    }
  }

  private filterLeft(channel: string): void {
    const n = (this.filtered.get(channel) ?? 0) - 1;
    if (n > 0) this.filtered.set(channel, n);
    else this.filtered.delete(channel);
  }

  private deltaLeft(channel: string): void {
    const d = this.deltas.get(channel);
    if (d !== undefined && --d.subscribers === 0) this.deltas.delete(channel);
  }

  /**
   * Delivers a publication to every local subscriber of its channel (but the connection
   * `pub.except` names), in the order calls arrive. Encoded once per wire protocol; subscriptions still recovering hold it in their buffer; history
   * subscriptions skip what they were already given (see `admit`). On a channel with delta
   * subscribers the delta is computed once too, against the previous publication delivered.
   * Filtered subscriptions get only what their filter matches. Answers how many it reached.
   */
  deliver(channel: string, pub: Publication): number {
    const subs = this.channels.get(channel);
    if (subs === undefined) return 0;
    const frames = new PublicationFrames(pub);
    const d = this.deltas.size === 0 ? undefined : this.deltas.get(channel);
    // Subscribers without a filter cost nothing more: one size check while no channel has a filtered one.
    if (this.conflations.size !== 0) {
      const c = this.conflations.get(channel);
      if (c !== undefined) return deliverConflated(subs, pub, frames, c);
    }
    if (this.filtered.size !== 0 && this.filtered.has(channel)) return deliverFiltered(subs, pub, frames, d);
    if (d !== undefined) return deliverDelta(subs, pub, frames, d);
    if (!(subs instanceof Map)) {
      offer(subs, pub, frames);
      return 1;
    }
    for (const sub of subs.values()) offer(sub, pub, frames);
    return subs.size;
  }

  /** The user's authenticated local connections (a snapshot when there is one). */
  connectionsOf(user: string): ReadonlySet<AuthenticatedConnection> {
    const had = this.users.get(user);
    return had === undefined ? new Set() : had instanceof Set ? had : new Set([had]);
  }

  /** The channel's local subscribers, or undefined when it has none (a snapshot when there is one). */
  subscribers(channel: string): ReadonlyMap<Connection, Subscription> | undefined {
    const had = this.channels.get(channel);
    return had === undefined || had instanceof Map ? had : new Map([[had.conn, had]]);
  }

  /** Changes whenever a channel's local subscriber count does (gains, losses): readers skip work when it has not. */
  get version(): number {
    return this.changes;
  }

  channelNames(): IterableIterator<string> {
    return this.channels.keys();
  }

  get stats(): { clients: number; users: number; channels: number; subscriptions: number } {
    return { clients: this.clients.size, users: this.users.size, channels: this.channels.size, subscriptions: this.subscriptionCount };
  }
}
