import { Redis, type RedisOptions } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { SlotRange } from '../redis/cluster-slots.ts';

export interface ClusterSubscriberOptions {
  /** The cluster's slot map now (`CLUSTER SLOTS` through a connected client); rejects when no node answers. */
  topology(): Promise<SlotRange[]>;
  /** Connection options for one node (authentication, TLS, timeouts, client name). */
  connectionOptions(host: string, port: number): RedisOptions;
  /** The plain pub/sub channel every node listens to (control messages), subscribed on any one primary. */
  control: string;
  onMessage(channel: string, message: string): void;
  /** Messages may be missed from now on (a subscribed connection dropped, or slots moved); called once per loss. */
  onLost(reason: string): void;
  /** After `onLost`: every wanted channel is subscribed again on the primary serving it now. */
  onBack(): void;
  /** How often the slot map is read to find slots that moved without a connection dropping. Default 5000 ms. */
  checkIntervalMs?: number;
}

/** One subscriber connection to one primary. */
interface Link {
  node: string;
  /**
   * `shard`: sharded channels; `control`: the control channel alone. Never both on one
   * connection: a `SUNSUBSCRIBE` answering "0 sharded channels left" makes ioredis take the
   * connection out of subscriber mode, and the control channel's messages would be dropped.
   */
  role: 'shard' | 'control';
  redis: Redis;
  /** Resolves once connected; rejects when the connection attempt fails. */
  ready: Promise<void>;
  up: boolean;
  /** Channels confirmed subscribed on this connection. */
  channels: Set<string>;
  /** Subscribe calls in flight on it (it is not closed as idle meanwhile). */
  pending: number;
  /** Closed by this class (idle, or shutting down): not a loss. */
  retired: boolean;
}

const key = (host: string, port: number) => `${host}:${port}`;

/**
 * The broker's subscriptions on a Redis Cluster: one subscriber connection per primary that
 * serves a wanted channel's slot (sharded pub/sub: `SSUBSCRIBE` on the slot's primary) and
 * one for the control channel (plain pub/sub reaches every node). It follows the slot map
 * itself — read when a connection drops, when a primary says its slots moved (an unsolicited
 * `SUNSUBSCRIBE`), and every `checkIntervalMs` — and moves each channel to the primary that
 * serves it now, retrying with backoff (100 ms doubling to 2 s) while a slot has no
 * reachable primary. Connections never reconnect on their own: a dead primary is not
 * dialled again and again; the slot map says where to go.
 *
 * (ioredis' own sharded subscribers re-read the slot map and redial the dead primary at
 * once every time an attempt fails, and announce "subscribers ready" after a failed
 * attempt: hundreds of attempts and false recoveries a second during a failover.)
 */
export class ClusterSubscriber {
  private readonly o: ClusterSubscriberOptions;
  private ranges: SlotRange[] = [];
  private readonly links = new Map<string, Link>();
  /** Channels this node wants: their slot, and which `subscribe` call wanted them last. */
  private readonly wanted = new Map<string, { slot: number; gen: number }>();
  private gen = 0;
  /** Where each wanted channel is confirmed subscribed. */
  private readonly placed = new Map<string, Link>();
  private controlLink: Link | undefined;
  /**
   * Channels subscribed (again) since the last loss: their publications may follow a hole
   * (those published before the subscription reached the new primary). Cleared at `onBack`.
   */
  private readonly suspects = new Set<string>();
  /** A node whose connection attempt failed is not dialled again before this time. */
  private readonly downUntil = new Map<string, number>();
  private lost = false;
  private closed = false;
  private syncing: Promise<void> | undefined;
  private again = false;
  private attempts = 0;
  private retry: NodeJS.Timeout | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(o: ClusterSubscriberOptions) {
    this.o = o;
    this.timer = setInterval(() => void this.sync(), o.checkIntervalMs ?? 5000);
    this.timer.unref();
  }

  /** Reads the slot map and subscribes to the control channel; rejects when that fails. */
  async start(): Promise<void> {
    await this.sync();
    if (!this.controlLink?.up) throw new Error('cannot subscribe to the control channel on any primary of the Redis Cluster');
  }

  /** True while some wanted subscription is not in place (since `onLost`). */
  get degraded(): boolean {
    return this.lost;
  }

  /**
   * True when `channel`'s publications must not be delivered live now: it was subscribed
   * again after a loss that is not over, so what arrives may follow a hole. The node's
   * clients are asked to recover from history at `onBack`, from before the hole.
   */
  suspect(channel: string): boolean {
    return this.lost && this.suspects.has(channel);
  }

  async subscribe(channel: string): Promise<void> {
    const slot = calculateSlot(channel);
    const gen = ++this.gen;
    this.wanted.set(channel, { slot, gen });
    try {
      const node = this.owner(slot);
      if (node === undefined) throw new Error(`slot ${slot} has no primary in the Redis Cluster's slot map`);
      await this.place(this.link(node), [channel]);
    } catch (err) {
      // Not subscribed: the caller forgets the channel, so must this (unless wanted again since).
      if (this.wanted.get(channel)?.gen === gen) await this.unsubscribe(channel).catch(() => {});
      throw err;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    this.wanted.delete(channel);
    const link = this.placed.get(channel);
    if (!link) return;
    this.placed.delete(channel);
    link.channels.delete(channel);
    if (link.up) await link.redis.sunsubscribe(channel);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    for (const link of this.links.values()) this.retire(link);
  }

  /** The primary serving `slot` in the last slot map read. */
  private owner(slot: number): string | undefined {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid]!;
      if (slot < r.from) hi = mid - 1;
      else if (slot > r.to) lo = mid + 1;
      else return key(r.host, r.port);
    }
    return undefined;
  }

  /** The connection to `node`, opened when there is none (refused while the node is marked down). */
  private link(node: string, role: Link['role'] = 'shard'): Link {
    const existing = this.links.get(`${role}|${node}`);
    if (existing) return existing;
    if ((this.downUntil.get(node) ?? 0) > Date.now()) throw new Error(`Redis Cluster node ${node} is unreachable`);
    const sep = node.lastIndexOf(':');
    const redis = new Redis({
      ...this.o.connectionOptions(node.slice(0, sep), Number(node.slice(sep + 1))),
      lazyConnect: true, retryStrategy: () => null, autoResubscribe: false, enableOfflineQueue: false, enableReadyCheck: false,
    });
    const link: Link = { node, role, redis, up: false, channels: new Set(), ready: Promise.resolve(), pending: 0, retired: false };
    link.ready = redis.connect().then(() => {
      link.up = true;
      this.downUntil.delete(node);
    }, (err: Error) => {
      this.downUntil.set(node, Date.now() + 1000);
      throw err;
    });
    link.ready.catch(() => {});
    redis.on('error', () => {});
    redis.on('smessage', (channel: string, message: string) => this.o.onMessage(channel, message));
    redis.on('message', (channel: string, message: string) => this.o.onMessage(channel, message));
    // The primary dropped some of our channels (their slots moved away): place them all again.
    redis.on('moved', () => {
      this.forget(link, `slots moved away from ${node}`);
      void this.sync();
    });
    redis.on('close', () => this.dropped(link));
    this.links.set(`${role}|${node}`, link);
    return link;
  }

  /** Subscribes `channels` (one slot each, or any) on `link`; confirmed ones count as placed there. */
  private async place(link: Link, channels: string[]): Promise<void> {
    link.pending++;
    // Marked before SSUBSCRIBE goes out: its reply and the first publications after it can
    // arrive in one read, delivered before this function resumes.
    if (this.lost) for (const c of channels) this.suspects.add(c);
    try {
      await link.ready;
      await link.redis.ssubscribe(...channels);
    } finally {
      link.pending--;
    }
    for (const c of channels) {
      if (!this.wanted.has(c)) {
        void link.redis.sunsubscribe(c).catch(() => {});
        continue;
      }
      const before = this.placed.get(c);
      if (before && before !== link) before.channels.delete(c);
      this.placed.set(c, link);
      link.channels.add(c);
    }
  }

  /** What was placed on `link` is no longer there: a loss when it held anything. */
  private forget(link: Link, reason: string): void {
    const held = link.channels.size > 0 || this.controlLink === link;
    for (const c of link.channels) if (this.placed.get(c) === link) this.placed.delete(c);
    link.channels.clear();
    if (this.controlLink === link) this.controlLink = undefined;
    if (held) this.lose(reason);
  }

  /** Closes a connection on purpose (nothing on it, or shutting down). */
  private retire(link: Link): void {
    link.retired = true;
    if (this.links.get(`${link.role}|${link.node}`) === link) this.links.delete(`${link.role}|${link.node}`);
    link.redis.disconnect();
  }

  private dropped(link: Link): void {
    link.up = false;
    if (this.links.get(`${link.role}|${link.node}`) === link) this.links.delete(`${link.role}|${link.node}`);
    if (this.closed || link.retired) return;
    this.forget(link, `subscriber connection to ${link.node} lost`);
    void this.sync();
  }

  private lose(reason: string): void {
    if (this.lost || this.closed) return;
    this.lost = true;
    this.o.onLost(reason);
  }

  /** Reads the slot map and puts every subscription where it belongs; one run at a time. */
  private sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      let complete = false;
      do {
        this.again = false;
        complete = await this.syncOnce().catch(() => false);
      } while (this.again && !this.closed);
      this.syncing = undefined;
      if (this.closed) return;
      clearTimeout(this.retry);
      if (complete) {
        this.attempts = 0;
        if (this.lost) {
          this.lost = false;
          this.suspects.clear();
          this.o.onBack();
        }
        return;
      }
      const delay = Math.min(100 * 2 ** this.attempts++, 2000);
      this.retry = setTimeout(() => void this.sync(), delay);
      this.retry.unref();
    })();
    return this.syncing;
  }

  /** One pass; true when every wanted channel and the control channel are in place. */
  private async syncOnce(): Promise<boolean> {
    const ranges = await this.o.topology();
    this.ranges = [...ranges].sort((a, b) => a.from - b.from);
    // Per primary, per slot: the wanted channels not confirmed on the primary serving them now.
    const missing = new Map<string, Map<number, string[]>>();
    let complete = true;
    for (const [channel, { slot }] of this.wanted) {
      const node = this.owner(slot);
      const at = this.placed.get(channel);
      if (at && at.node === node && at.up) continue;
      if (at) {
        // Its slot moved to another primary: publications there were missed until now.
        this.placed.delete(channel);
        at.channels.delete(channel);
        if (at.up) void at.redis.sunsubscribe(channel).catch(() => {});
        this.lose(`slot ${slot} moved from ${at.node} to ${node ?? 'no primary'}`);
      }
      if (node === undefined) {
        complete = false;
        continue;
      }
      let bySlot = missing.get(node);
      if (!bySlot) missing.set(node, (bySlot = new Map()));
      bySlot.get(slot)?.push(channel) ?? bySlot.set(slot, [channel]);
    }
    const placing = [...missing].flatMap(([node, bySlot]) => {
      try {
        const link = this.link(node);
        return [...bySlot.values()].map((channels) => this.place(link, channels));
      } catch (err) {
        return [Promise.reject(err)];
      }
    });
    // The control channel's primary must still be one (a partitioned node loses its slots).
    const control = this.controlLink;
    if (control?.up && !this.ranges.some((r) => key(r.host, r.port) === control.node)) {
      this.controlLink = undefined;
      void control.redis.unsubscribe(this.o.control).catch(() => {});
      this.lose(`control channel's node ${control.node} no longer serves slots`);
    }
    if (!this.controlLink?.up) placing.push(this.placeControl());
    const results = await Promise.allSettled(placing);
    if (results.some((r) => r.status === 'rejected')) complete = false;
    // Connections left holding nothing are closed (a dead primary's is gone already).
    for (const link of [...this.links.values()]) {
      if (link.up && link.pending === 0 && link.channels.size === 0 && link !== this.controlLink) this.retire(link);
    }
    return complete && this.controlLink !== undefined && this.controlLink.up;
  }

  /** Subscribes the control channel on the first primary (in slot order) that takes it. */
  private async placeControl(): Promise<void> {
    let last: unknown = new Error('the Redis Cluster slot map lists no primary');
    for (const node of new Set(this.ranges.map((r) => key(r.host, r.port)))) {
      try {
        const link = this.link(node, 'control');
        await link.ready;
        await link.redis.subscribe(this.o.control);
        this.controlLink = link;
        return;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }
}
