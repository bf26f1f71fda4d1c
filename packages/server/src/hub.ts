import { encodeFrame, type Publication } from '@switchboard/protocol';
import type { Connection } from './connection/connection.ts';
import type { Subscription } from './connection/subscription.ts';

export type { Subscription } from './connection/subscription.ts';

/**
 * True when `pub` may go to `sub`, advancing the subscription's position: always on channels
 * without history, and for history channels only past the position already given.
 */
export function admit(sub: Subscription, pub: Publication): boolean {
  const at = sub.position;
  if (!at || pub.offset === undefined) return true;
  if (pub.epoch === at.epoch && pub.offset <= at.offset) return false;
  at.epoch = pub.epoch;
  at.offset = pub.offset;
  return true;
}

/** Encodes a publication as a `message` frame, once for all its subscribers. */
export function encodeMessage(pub: Publication): Buffer {
  const frame: Record<string, unknown> = { type: 'message', channel: pub.channel };
  if (pub.offset !== undefined) frame.offset = pub.offset;
  if (pub.epoch !== undefined) frame.epoch = pub.epoch;
  frame.data = pub.data;
  if (pub.from !== undefined) frame.from = pub.from;
  if (pub.id !== undefined) frame.id = pub.id;
  frame.ts = pub.ts;
  return Buffer.from(encodeFrame(frame as never));
}

/**
 * This node's connections and local fan-out. Knows nothing of brokers or stores: the node
 * tells it what to deliver and it tells the node when a channel gains its first or loses
 * its last local subscriber.
 */
export class Hub {
  /** channel → its local subscribers and their subscription state. */
  private readonly channels = new Map<string, Map<Connection, Subscription>>();
  /** user → that user's authenticated local connections. */
  private readonly users = new Map<string, Set<Connection>>();
  /** client id → authenticated local connection. */
  readonly clients = new Map<string, Connection>();
  private subscriptionCount = 0;

  addClient(conn: Connection): void {
    this.clients.set(conn.id, conn);
    const user = conn.user!;
    let set = this.users.get(user);
    if (!set) this.users.set(user, (set = new Set()));
    set.add(conn);
  }

  /** Removes a client and its subscriptions; returns the channels whose last local subscriber it was. */
  removeClient(conn: Connection): string[] {
    const emptied: string[] = [];
    for (const channel of conn.subscriptions.keys()) if (this.removeSubscriber(conn, channel)) emptied.push(channel);
    conn.subscriptions.clear();
    if (this.clients.delete(conn.id)) {
      const set = this.users.get(conn.user!);
      if (set) {
        set.delete(conn);
        if (set.size === 0) this.users.delete(conn.user!);
      }
    }
    return emptied;
  }

  /** Adds a subscription; true when it is the channel's first local subscriber. */
  addSubscriber(conn: Connection, sub: Subscription): boolean {
    let subs = this.channels.get(sub.channel);
    const first = !subs;
    if (!subs) this.channels.set(sub.channel, (subs = new Map()));
    if (!subs.has(conn)) this.subscriptionCount++;
    subs.set(conn, sub);
    conn.subscriptions.set(sub.channel, sub);
    return first;
  }

  /** Removes a subscription; true when the channel has no local subscriber left. */
  removeSubscriber(conn: Connection, channel: string): boolean {
    const subs = this.channels.get(channel);
    if (!subs || !subs.delete(conn)) return false;
    this.subscriptionCount--;
    conn.subscriptions.delete(channel);
    if (subs.size > 0) return false;
    this.channels.delete(channel);
    return true;
  }

  /**
   * Delivers a publication to every local subscriber of its channel, in the order calls
   * arrive. Encoded once; subscriptions still recovering hold it in their buffer; history
   * subscriptions skip what they were already given (see `admit`).
   */
  deliver(channel: string, pub: Publication): number {
    const subs = this.channels.get(channel);
    if (!subs) return 0;
    const frame = encodeMessage(pub);
    for (const [conn, sub] of subs) {
      if (sub.buffer) sub.buffer.push(pub);
      else if (admit(sub, pub)) conn.enqueue(frame);
    }
    return subs.size;
  }

  /** Sends one encoded frame to every local connection of a user. */
  sendToUser(user: string, frame: Buffer): number {
    const set = this.users.get(user);
    if (!set) return 0;
    for (const conn of set) conn.enqueue(frame);
    return set.size;
  }

  connectionsOf(user: string): ReadonlySet<Connection> {
    return this.users.get(user) ?? new Set();
  }

  subscribers(channel: string): ReadonlyMap<Connection, Subscription> | undefined {
    return this.channels.get(channel);
  }

  channelNames(): IterableIterator<string> {
    return this.channels.keys();
  }

  get stats(): { clients: number; users: number; channels: number; subscriptions: number } {
    return { clients: this.clients.size, users: this.users.size, channels: this.channels.size, subscriptions: this.subscriptionCount };
  }
}
