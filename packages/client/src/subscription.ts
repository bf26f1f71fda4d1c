import { UNWRITTEN_EPOCH, type DeltaFormat, type AckFrame, type JoinFrame, type LeaveFrame, type UpdateFrame, type Publication, type StreamPosition, type SubscribeFrame, type SubscribedFrame } from '@switchboard/protocol';
import { Emitter } from './emitter.ts';
import type { SwitchboardError } from './errors.ts';
import { followReplay, positionOf, type HistoryReader } from './replay.ts';
import { DeltaReceiver, type IncomingMessage } from './delta.ts';

/** `subscribing`: asked (or waiting to reconnect); `subscribed`: live; `unsubscribed`: not wanted or refused. */
export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';

/**
 * A publication whose `data` is typed as the channel's payload `T` (`subscribe<T>(…)`). The
 * SDK does not check it: `T` is what the application says its channel carries.
 */
export type ChannelPublication<T = unknown> = Omit<Publication, 'data'> & { data: T };

/** Events of a Subscription (`T`: the channel's payload type, `unknown` unless given). */
export interface SubscriptionEvents<T = unknown> {
  /** Every state change. */
  state: { state: SubscriptionState; previous: SubscriptionState };
  /** The server confirmed the subscription (first time, or again after a reconnect). */
  subscribed: { epoch?: string; offset?: number; resubscribed: boolean };
  /** A publication, live or replayed: in offset order, never twice. */
  message: ChannelPublication<T>;
  /** Someone subscribed (namespaces with `joinLeave`). */
  join: { user: string; client: string; info?: unknown };
  /** Someone left (namespaces with `joinLeave`). */
  leave: { user: string; client: string };
  /** Someone changed their presence info (`setPresence`; namespaces with `joinLeave` and `presenceUpdates`). */
  update: { user: string; client: string; info: unknown };
  /** Missed publications were replayed after a reconnect (`count` of them, delivered as `message` first). */
  recovered: { count: number };
  /**
   * The stream could not be recovered (a new epoch, or the gap is no longer retained):
   * publications were missed. Reload the channel's state (e.g. with `history`).
   */
  gap: { previous: StreamPosition; epoch: string; offset: number };
  /** The server refused the subscription (the state becomes `unsubscribed`). */
  error: { error: SwitchboardError };
  /** Left the channel (by `unsubscribe()` or a refusal). */
  unsubscribed: { reason: string };
}

/** Options of `client.subscribe(channel, options)`. */
export interface SubscribeOptions {
  /** Resume from this position (e.g. one the app saved): missed publications are replayed. */
  since?: StreamPosition;
  /** Re-subscribe with the last seen position after a reconnect (default true). */
  recover?: boolean;
  /**
   * On the first subscribe (no `since`), deliver the channel's last `rewind` publications
   * (history channels) as `message` events, oldest first, before the live ones.
   * At most the server's `limits.maxRewind` (default 100).
   */
  rewind?: number;
  /**
   * `'fossil'`: ask for delta compression (namespaces with `delta: 'fossil'`). The server then
   * sends most publications as small deltas against the previous one, and the SDK applies
   * them: `message` events carry full data either way. See `Subscription.delta`.
   */
  delta?: DeltaFormat;
  /**
   * Only publications whose tags match this filter, evaluated by the server, e.g.
   * `symbol in ["AAPL","MSFT"] && priority >= 2` (docs/protocol.md#filters): live, recovered
   * and rewound, and the pages of a long replay. A filter that does not parse is refused
   * (`bad_request` naming the position). Filtered subscriptions carry full data (no delta).
   */
  filter?: string;
}

/** What the client gives a Subscription so it can act. */
export interface SubscriptionHost {
  unsubscribe(sub: Subscription): void;
  /** `history` on the live connection: pages a replay the server cut (`more`). */
  history: HistoryReader;
  /**
   * A delta could not be applied: subscribe again on the live connection (recovering from
   * the last position when the subscription recovers). `lost`: publications were missed
   * (nothing to recover from), reported as the client's `error` event.
   */
  resubscribe(sub: Subscription, lost: SwitchboardError | undefined): void;
  /** `presence_update` on the live connection: resolves with its ack, rejects with its error. */
  presenceUpdate(channel: string, info: unknown): Promise<unknown>;
}

/**
 * One channel the application wants. The client keeps it subscribed across reconnects:
 * on each new connection it subscribes again with `since` = the last position seen, so
 * missed publications are replayed (event `recovered`) or the loss is reported (`gap`).
 */
export class Subscription<T = unknown> extends Emitter<SubscriptionEvents<T>> {
  readonly channel: string;
  /**
   * True when the backend subscribed this connection (`POST /api/subscribe`): the client does
   * not subscribe it again after a reconnect; the server does, when it is persistent.
   */
  readonly server: boolean;
  /** Server-side subscriptions: stored by the backend (`persist: true`), so they outlive a connection. */
  persistent = false;
  /** Last position seen (epoch and offset of the latest delivered publication); undefined without history. */
  position: StreamPosition | undefined;
  private current: SubscriptionState = 'subscribing';
  private readonly recover: boolean;
  private readonly rewind: number;
  /** The filter sent with every subscribe of this subscription, and with its replay's pages. */
  readonly filter: string | undefined;
  private readonly host: SubscriptionHost;
  private confirmedOnce = false;
  private sentSince: StreamPosition | undefined;
  /** Live publications that arrived before the recovering subscribe's ack, or while its replay is paged (delivered after the replay). */
  private held: Publication[] | null = null;
  /** Bumped whenever a subscribe attempt ends (a new one, a lost connection, the end): a paged replay of an older one stops. */
  private attempt = 0;
  /** Applies deltas (`options.delta`). */
  private readonly deltas: DeltaReceiver | undefined;
  /** True when the server granted delta compression (the last subscribe ack said so). */
  delta = false;

  constructor(channel: string, host: SubscriptionHost, options: SubscribeOptions = {}, server = false) {
    super();
    this.channel = channel;
    this.server = server;
    this.host = host;
    this.recover = options.recover ?? true;
    this.rewind = options.rewind ?? 0;
    this.filter = options.filter;
    this.position = options.since;
    this.deltas = options.delta ? new DeltaReceiver(options.delta) : undefined;
  }

  get state(): SubscriptionState {
    return this.current;
  }

  /** Resolves once subscribed; rejects if the server refuses. */
  ready(): Promise<void> {
    if (this.current === 'subscribed') return Promise.resolve();
    if (this.current === 'unsubscribed') return Promise.reject(new Error(`not subscribed to ${this.channel}`));
    return new Promise((resolve, reject) => {
      const offs = [
        this.once('subscribed', () => { offs.forEach((f) => f()); resolve(); }),
        this.once('error', ({ error }) => { offs.forEach((f) => f()); reject(error); }),
        this.once('unsubscribed', ({ reason }) => { offs.forEach((f) => f()); reject(new Error(`unsubscribed: ${reason}`)); }),
      ];
    });
  }

  /** Leaves the channel; no more events. */
  unsubscribe(): void {
    if (this.current === 'unsubscribed') return;
    this.host.unsubscribe(this);
    this.end('unsubscribe');
  }

  // ---- driven by the client ---------------------------------------------------------

  /** @internal The frame to (re)subscribe with. */
  subscribeFrame(id: string): SubscribeFrame {
    this.attempt++;
    this.setState('subscribing');
    this.sentSince = this.recover || !this.confirmedOnce ? this.position : undefined;
    const rewind = !this.sentSince && !this.confirmedOnce && this.rewind > 0 ? this.rewind : 0;
    this.held = this.sentSince || rewind > 0 ? [] : null;
    const delta = this.deltas ? { delta: this.deltas.format } : {};
    const filter = this.filter !== undefined ? { filter: this.filter } : {};
    return { type: 'subscribe', id, channel: this.channel, ...(this.sentSince ? { since: this.sentSince } : rewind > 0 ? { rewind } : {}), ...delta, ...filter };
  }

  /**
   * @internal The subscribe `ack`: replays recovered publications, reports a gap. A replay the
   * server cut (`more`) is paged with `history` up to the ack's offset first, live publications
   * held meanwhile; the subscription is `subscribed` once it is complete.
   */
  handleAck(ack: AckFrame): void {
    const resubscribed = this.confirmedOnce;
    this.confirmedOnce = true;
    this.delta = ack.delta === true;
    this.deltas?.grant(this.delta);
    const held = this.held ?? [];
    this.held = null;
    let recovered: number | undefined;
    let gap: SubscriptionEvents['gap'] | undefined;
    if (typeof ack.epoch === 'string' && typeof ack.offset === 'number') {
      const since = this.sentSince;
      const next = positionOf(ack.next);
      if (since && ack.recovered && ack.more === true && next) return this.pageReplay(ack, next, held, resubscribed);
      if (since && ack.recovered) {
        // The replay, then live publications that overtook the ack, in offset order.
        const replayed = new Set(ack.publications ?? []);
        const all = [...replayed, ...held].sort((x, y) => (x.offset ?? 0) - (y.offset ?? 0));
        held.length = 0;
        recovered = 0;
        for (const pub of all) if (this.accept(pub) && replayed.has(pub)) recovered++;
      } else if (since) {
        gap = { previous: since, epoch: ack.epoch, offset: ack.offset };
      } else if (ack.publications) {
        // A rewind: the last publications, then live ones that overtook the ack, in offset order.
        const all = [...ack.publications, ...held].sort((x, y) => (x.offset ?? 0) - (y.offset ?? 0));
        held.length = 0;
        for (const pub of all) this.accept(pub);
      }
    }
    this.confirm(ack, resubscribed, held, recovered, gap);
  }

  /**
   * Delivers the ack's first page, then follows the rest with `history` (`followReplay`)
   * while live publications are held; then confirms. A replay that cannot be completed is a
   * `gap` (as a failed recovery): what is held is delivered after it.
   */
  private pageReplay(ack: AckFrame, next: StreamPosition, held: Publication[], resubscribed: boolean): void {
    this.held = held;
    const attempt = this.attempt;
    const upTo = { epoch: ack.epoch!, offset: ack.offset! };
    let count = 0;
    const deliver = (pub: Publication) => void (this.accept(pub) && count++);
    for (const pub of ack.publications ?? []) deliver(pub);
    const stale = () => attempt !== this.attempt || this.current === 'unsubscribed';
    void followReplay(this.host.history, this.channel, next, upTo, deliver, stale, this.filter).then((complete) => {
      if (complete === undefined || stale()) return;
      const rest = this.held ?? [];
      this.held = null;
      rest.sort((x, y) => (x.offset ?? 0) - (y.offset ?? 0));
      const gap = complete ? undefined : { previous: this.position ?? this.sentSince!, ...upTo };
      this.confirm(ack, resubscribed, rest, complete ? count : undefined, gap);
    });
  }

  /** The end of a subscribe: position, state, events, then the live publications held meanwhile. */
  private confirm(ack: AckFrame, resubscribed: boolean, held: Publication[], recovered: number | undefined, gap: SubscriptionEvents['gap'] | undefined): void {
    if (typeof ack.epoch === 'string' && typeof ack.offset === 'number') {
      if (!this.position || this.position.epoch !== ack.epoch || this.position.offset < ack.offset) {
        this.position = { epoch: ack.epoch, offset: ack.offset };
      }
    }
    this.setState('subscribed');
    this.emit('subscribed', { epoch: ack.epoch, offset: ack.offset, resubscribed });
    if (recovered !== undefined) this.emit('recovered', { count: recovered });
    if (gap) this.emit('gap', gap);
    for (const pub of held) this.live(pub);
  }

  /**
   * @internal The backend subscribed the connection (a `subscribed` frame). A position it
   * cannot continue from (another epoch, or publications in between) is reported as `gap`.
   */
  handleServerSubscribed(f: SubscribedFrame): void {
    this.attempt++;
    this.persistent = f.persist;
    const resubscribed = this.confirmedOnce;
    this.confirmedOnce = true;
    const held = this.held ?? [];
    this.held = null;
    let gap: SubscriptionEvents['gap'] | undefined;
    if (f.epoch !== undefined && f.offset !== undefined) {
      const p = this.position;
      if (p && (p.epoch !== f.epoch || p.offset < f.offset)) gap = { previous: p, epoch: f.epoch, offset: f.offset };
      if (!p || p.epoch !== f.epoch || p.offset < f.offset) this.position = { epoch: f.epoch, offset: f.offset };
    }
    this.setState('subscribed');
    this.emit('subscribed', { epoch: f.epoch, offset: f.offset, resubscribed });
    if (gap) this.emit('gap', gap);
    for (const pub of held) this.accept(pub);
  }

  /** @internal A live publication (or a delta of one, applied here in the order frames arrive). */
  handleMessage(message: IncomingMessage): void {
    if (this.current === 'unsubscribed') return;
    let pub: Publication | undefined;
    try {
      // A plain subscription is never sent deltas; one that came anyway is not data.
      pub = this.deltas ? this.deltas.resolve(this.channel, message) : message.delta ? undefined : message;
    } catch (err) {
      // Never delivered: subscribe again, recovering what the failed delta carried when the stream allows.
      const recovers = this.position !== undefined && this.recover;
      return this.host.resubscribe(this, recovers ? undefined : (err as SwitchboardError));
    }
    if (pub === undefined) return;
    if (this.held && pub.offset !== undefined) {
      this.held.push(pub); // a recovery is under way: the replay comes first
      return;
    }
    this.live(pub);
  }

  /** A live publication in its turn: a stream reset since the last one is a gap. */
  private live(pub: Publication): void {
    const previous = this.position;
    // A stream that did not exist yet begins its epoch at offset 1: nothing was missed.
    const begins = previous?.epoch === UNWRITTEN_EPOCH && previous.offset === 0 && pub.offset === 1;
    if (pub.epoch !== undefined && previous && pub.epoch !== previous.epoch && pub.offset !== undefined && !begins) {
      // The stream was reset while we were live: what came before this is unknown.
      this.position = undefined;
      this.emit('gap', { previous, epoch: pub.epoch, offset: pub.offset - 1 });
    }
    this.accept(pub);
  }

  /** @internal A join, leave or update push. */
  handlePresence(frame: JoinFrame | LeaveFrame | UpdateFrame): void {
    if (this.current === 'unsubscribed') return;
    if (frame.type === 'join') this.emit('join', { user: frame.user, client: frame.client, ...(frame.info !== undefined ? { info: frame.info } : {}) });
    else if (frame.type === 'update') this.emit('update', { user: frame.user, client: frame.client, info: frame.info });
    else this.emit('leave', { user: frame.user, client: frame.client });
  }

  /**
   * Sets this connection's presence info in the channel (any JSON, at most the server's
   * `limits.maxPresenceInfoBytes`; `null` clears it), on namespaces with `presence` and
   * `presenceUpdates`: `presence()` answers show it on every node, and subscribers get an
   * `update` event (with `joinLeave`). Resolves once stored; rejects with the server's error
   * (`too_many_requests` past `limits.presenceUpdatesPerSecond`). Needs the subscription live.
   */
  async setPresence(info: unknown): Promise<void> {
    await this.host.presenceUpdate(this.channel, info);
  }

  /** @internal The connection was lost; the client will subscribe again. */
  handleLost(): void {
    this.attempt++;
    this.held = null; // replayed from the unchanged position next time
    this.deltas?.reset();
    if (this.current === 'subscribed') this.setState('subscribing');
  }

  /** @internal The server refused. */
  handleError(error: SwitchboardError): void {
    this.emit('error', { error });
    this.end(error.code);
  }

  /** @internal Ends the subscription (refused, unsubscribed or the client closed for good). */
  end(reason: string): void {
    this.attempt++;
    this.held = null;
    if (this.current === 'unsubscribed') return;
    this.setState('unsubscribed');
    this.emit('unsubscribed', { reason });
  }

  /** Delivers a publication unless it was already delivered; true when delivered. */
  private accept(pub: Publication): boolean {
    if (pub.offset !== undefined && pub.epoch !== undefined) {
      if (this.position && this.position.epoch === pub.epoch && pub.offset <= this.position.offset) return false;
      this.position = { epoch: pub.epoch, offset: pub.offset };
    }
    this.emit('message', pub as ChannelPublication<T>);
    return true;
  }

  private setState(next: SubscriptionState): void {
    if (next === this.current) return;
    const previous = this.current;
    this.current = next;
    this.emit('state', { state: next, previous });
  }
}
