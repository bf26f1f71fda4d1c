import type { Publication, StreamPosition, TagFilter } from '@switchboard/protocol';
import { filterPublications } from './filter.ts';
import { Subscription, admit, type AuthenticatedConnection, type Connection } from '../connection/connection.ts';
import type { Config } from '../config.ts';
import type { Broker } from '../broker/broker.ts';
import type { ChannelResolver, ResolvedChannel } from '../channels.ts';
import type { Hub } from '../hub.ts';
import type { HistoryReads } from '../history/history-reads.ts';
import type { HistoryOptions } from '../history/history-store.ts';
import { readRewind } from '../history/rewind.ts';
import type { PresenceTracker } from '../presence/presence-tracker.ts';
import type { SingleSignOn } from '../session/single-sign-on.ts';
import type { UnavailableReporter } from '../unavailable.ts';
import type { Webhooks } from '../webhooks/webhooks.ts';

/** What a subscribe acknowledges. */
export interface SubscribeResult {
  epoch?: string;
  offset?: number;
  recovered?: boolean;
  publications?: Publication[];
  /** The replay was cut at the byte bound: continue with `history` from `next` up to `offset`. */
  more?: boolean;
  /** Where the client continues the replay (the last publication in `publications`). */
  next?: StreamPosition;
}

/** Whether a subscription was closed (read anew after every await). */
const isClosed = (sub: Subscription): boolean => sub.state === 'closed';

/** How a subscription starts: recovering from `since`, or with the last `rewind` publications; `delta`: a delta subscription. */
export interface SubscribeOptions {
  since?: StreamPosition | undefined;
  rewind?: number;
  delta?: boolean;
  /** Only publications whose tags this matches, live and replayed (`parseFilter`). */
  filter?: TagFilter;
  /**
   * Who this subscription is in the channel's presence, when the protocol names members per
   * channel (Pusher's presence channels: `channel_data`); absent: the connection's identity.
   * Presence is tracked as `ch.options` say (a protocol may pass options of its own).
   */
  member?: PresenceMemberOf;
}

/** A subscription's presence member: user id and public info. */
export interface PresenceMemberOf {
  user: string;
  info?: unknown;
}

/** What the subscriptions of a node need. */
export interface SubscriptionsOptions {
  config: Config;
  hub: Hub;
  broker: Pick<Broker, 'subscribe' | 'unsubscribe'>;
  historyReads: HistoryReads;
  channels: ChannelResolver;
  tracker: Pick<PresenceTracker, 'joined' | 'left'>;
  sso: Pick<SingleSignOn, 'settle'>;
  webhooks: Pick<Webhooks, 'channel'>;
  failures: UnavailableReporter;
}

/**
 * The one way a connection is subscribed to a channel, whoever asks (a client's `subscribe`,
 * the automatic personal channel, the server API's subscribe, persistent server-side
 * subscriptions): each subscription is a state machine (`Subscription.state`).
 *
 * - `pending`: in the hub (the channel's first local subscriber sets up the broker
 *   subscription; later ones wait for it too); history channels hold live publications.
 * - `recovering`: the broker subscription is in place, so nothing published from here on
 *   can be missed; the history read (recovery from `since`, a `rewind`, or the current
 *   position) is done and its result goes to the client (an ack, replayed messages, a
 *   `subscribed` event), still holding live publications.
 * - `live`: held publications past the position given are released, later ones flow
 *   (`Hub.deliver`): no gap, no duplicate.
 * - `closed`: unsubscribed, failed, or the connection is gone; every step after an await
 *   checks this one field instead of the connection and its map.
 */
export class Subscriptions {
  private readonly o: SubscriptionsOptions;
  /** channel → the broker subscription still being set up for it. */
  private readonly brokerJoins = new Map<string, Promise<void>>();

  constructor(o: SubscriptionsOptions) {
    this.o = o;
  }

  /**
   * Subscribes `conn` to `ch` and runs the whole life up to `live`: `announce` tells the
   * client what it got (runs while the subscription recovers: anything published meanwhile
   * is held and follows it). Resolves with the live subscription, or undefined when the
   * connection closed or left the channel meanwhile. Rejects with a temporary error when the
   * broker or the history store failed (the subscription is then closed).
   */
  async subscribe(
    conn: AuthenticatedConnection, ch: ResolvedChannel, options: SubscribeOptions,
    announce: (sub: Subscription, result: SubscribeResult) => void | Promise<void>,
  ): Promise<Subscription | undefined> {
    const opened = await this.open(conn, ch, options);
    if (!opened) return undefined;
    const { sub, result } = opened;
    try {
      await announce(sub, result);
    } finally {
      this.goLive(sub, result);
    }
    if (isClosed(sub)) return undefined;
    this.o.tracker.joined(conn, ch, options.member);
    return sub;
  }

  /**
   * `pending` → `recovering`: joins the hub and the broker, then reads history. Undefined
   * when the connection is closed (a hook answered after the socket went) or the
   * subscription was closed before it recovered.
   */
  private async open(conn: AuthenticatedConnection, ch: ResolvedChannel, options: SubscribeOptions): Promise<{ sub: Subscription; result: SubscribeResult } | undefined> {
    if (conn.state === 'closed') return undefined;
    const sub = new Subscription(conn, ch.name, {
      history: ch.history !== undefined, delta: options.delta === true, ...(options.filter ? { filter: options.filter } : {}), conflation: ch.options.conflation,
    });
    const { hub, broker, webhooks, failures } = this.o;
    const first = hub.addSubscriber(sub);
    if (first && ch.owner === undefined) webhooks.channel('occupied', ch.name);
    let joining = this.brokerJoins.get(ch.name);
    if (first) {
      const p = broker.subscribe(ch.name);
      this.brokerJoins.set(ch.name, (joining = p));
      // Settled either way: forgotten before any waiter below resumes.
      const forget = () => void (this.brokerJoins.get(ch.name) === p && this.brokerJoins.delete(ch.name));
      void p.then(forget, forget);
    }
    if (joining) {
      try {
        await joining;
      } catch (err) {
        if (sub.state !== 'closed' && hub.removeSubscriber(conn, ch.name) && ch.owner === undefined) webhooks.channel('vacated', ch.name);
        throw failures.unavailable(err, 'broker subscribe', 'subscription failed, try again');
      }
    }
    if (isClosed(sub)) return undefined;
    sub.state = 'recovering';
    if (!ch.history) return { sub, result: {} };
    let result: SubscribeResult;
    try {
      result = await this.recover(ch.name, ch.history, options);
    } catch (err) {
      this.close(conn, ch.name);
      throw failures.unavailable(err, 'history read', 'history not available, try again');
    }
    return isClosed(sub) ? undefined : { sub, result };
  }

  /**
   * The history read of a recovering subscription: the replay from `since`, the rewind, or only
   * the current position. With a filter, what is replayed is what it matches (a rewind: of the
   * last `rewind` publications); `next` stays the last publication read.
   */
  private async recover(channel: string, history: HistoryOptions, options: SubscribeOptions): Promise<SubscribeResult> {
    const { historyReads, config } = this.o;
    const { since, rewind = 0, filter } = options;
    if (rewind > 0 && !since) {
      // The last `rewind` publications, oldest first; later ones come live (goLive).
      const back = await readRewind(historyReads, channel, { count: rewind, maxBytes: config.limits.maxRewindBytes, retention: history });
      return { epoch: back.position.epoch, offset: back.position.offset, publications: filterPublications(back.publications, filter) };
    }
    const read = await historyReads.read(channel, { since, limit: since ? history.size : 0, retention: history });
    const result: SubscribeResult = { epoch: read.position.epoch, offset: read.position.offset };
    if (since) {
      result.recovered = read.recoverable;
      result.publications = filterPublications(read.publications, filter);
      // Cut at the byte bound: the client pages the rest (up to `offset`) with `history`.
      const last = read.publications.at(-1);
      if (read.more && last) {
        result.more = true;
        result.next = { epoch: last.epoch!, offset: last.offset! };
      }
    }
    return result;
  }

  /**
   * `recovering` → `live`, once the client has what `result` carries. From here on the
   * connection is at `result`'s position (the last replayed publication, else the stream's
   * current offset; with `more`, the offset the client pages up to): held and later live
   * publications are sent only past it, so what was replayed (or the client pages) is never
   * sent twice, even when the broker delivers it late.
   */
  private goLive(sub: Subscription, result: SubscribeResult): void {
    if (sub.state !== 'recovering') return;
    sub.state = 'live';
    const held = sub.buffer;
    if (!held) return;
    sub.buffer = null;
    sub.bufferedBytes = 0;
    if (result.epoch !== undefined) {
      const last = result.more ? undefined : result.publications?.at(-1);
      sub.position = { epoch: result.epoch, offset: last?.offset ?? result.offset ?? 0 };
    }
    const { conn } = sub;
    for (const pub of held) if (pub.except !== conn.id && admit(sub, pub)) conn.enqueue(conn.encoder.publication(pub));
    // Those went out with full data, outside the hub's delta sequence: the next message is full too.
    if (sub.delta !== undefined) sub.delta = -1;
  }

  /** Makes a live subscription a delta subscription (its next message carries full data). */
  enableDelta(sub: Subscription): void {
    if (sub.state !== 'closed') this.o.hub.enableDelta(sub);
  }

  /** → `closed`: leaves a channel; false when the connection was not subscribed. */
  close(conn: AuthenticatedConnection, channel: string): boolean {
    if (!conn.subscriptions.has(channel)) return false;
    if (this.o.hub.removeSubscriber(conn, channel)) this.vacated(channel);
    this.o.tracker.left(conn, channel);
    this.o.sso.settle(conn, this.o.channels.resolve(channel).namespace);
    return true;
  }

  /** The connection is gone: every subscription of it is closed. */
  connectionClosed(conn: Connection): void {
    for (const channel of this.o.hub.removeClient(conn)) this.vacated(channel);
  }

  /** The channel's last local subscriber left: stop receiving it; `channel.vacated` (not for personal channels). */
  private vacated(channel: string): void {
    void this.o.broker.unsubscribe(channel).catch((err) => this.o.failures.report(err, 'broker unsubscribe'));
    if (!channel.startsWith('#')) this.o.webhooks.channel('vacated', channel);
  }
}
