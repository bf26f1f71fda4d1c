import { RedisKeys } from '../redis/keys.ts';
import type { RedisClient, RedisConnection } from '../redis/connect.ts';
import type { Logger } from '../logger.ts';
import { OCCUPY, VACATE } from './redis-webhook-scripts.ts';
import { outboxKeys, type OutboxKeys } from './redis-webhook-outbox.ts';
import type { ChannelEventFor, ChannelOccupancy } from './channel-occupancy.ts';
import type { WebhookEvent } from './webhook-outbox.ts';

type Keys = [nodes: string, occupied: string, seq: string, queue: string, events: string, state: string];

interface Scripts {
  sbOccupy(...args: [...Keys, node: string, expiry: number, channel: string, id: string, json: string, nextAt: number]): Promise<number>;
  sbVacate(...args: [...Keys, node: string, now: number, channel: string, id: string, json: string, nextAt: number]): Promise<number>;
}

/** Channels per refresh command. */
const CHUNK = 500;
/** Stale channels settled per sweep. */
const SWEEP_LIMIT = 200;

/**
 * Channel occupancy in Redis, beside the webhook outbox under the `{webhooks}` hash tag (one
 * Redis Cluster slot), so deciding a transition and enqueueing its event is one Lua script:
 * `{webhooks}:channel:<channel>` holds node id → expiry of the nodes with local subscribers,
 * `{webhooks}:occupied` channel → latest expiry for the channels announced occupied.
 * Each node refreshes its entries every `intervalMs`; a dead node's expire after `ttlMs`,
 * and the next sweep of any node settles its channels. Shares the outbox's connection
 * (which the outbox closes).
 */
export class RedisChannelOccupancy implements ChannelOccupancy {
  readonly intervalMs: number;
  private readonly ttlMs: number;
  private readonly redis: RedisClient & Scripts;
  private readonly keys: RedisKeys;
  private readonly outbox: OutboxKeys;
  private readonly node: string;
  private readonly log: Logger | undefined;
  /** Channels this node holds an entry for. */
  private readonly mine = new Set<string>();

  constructor(o: { connection: RedisConnection; node: string; keys?: RedisKeys; ttlMs?: number; intervalMs?: number; log?: Logger }) {
    this.redis = o.connection.redis as RedisClient & Scripts;
    this.keys = o.keys ?? new RedisKeys();
    this.outbox = outboxKeys(this.keys);
    this.node = o.node;
    this.intervalMs = o.intervalMs ?? 5000;
    this.ttlMs = o.ttlMs ?? this.intervalMs * 3;
    this.log = o.log;
    this.redis.defineCommand('sbOccupy', { numberOfKeys: 6, lua: OCCUPY });
    this.redis.defineCommand('sbVacate', { numberOfKeys: 6, lua: VACATE });
  }

  private keysOf(channel: string): Keys {
    const { seq, queue, events, state } = this.outbox;
    return [this.keys.webhooks(`channel:${channel}`), this.keys.webhooks('occupied'), seq, queue, events, state];
  }

  async occupy(channel: string, event: WebhookEvent | undefined): Promise<boolean> {
    this.mine.add(channel);
    const e = encode(event);
    return (await this.redis.sbOccupy(...this.keysOf(channel), this.node, Date.now() + this.ttlMs, channel, e.id, e.json, e.ts)) === 1;
  }

  async vacate(channel: string, event: WebhookEvent | undefined): Promise<boolean> {
    this.mine.delete(channel);
    return this.settle(channel, this.node, event);
  }

  private async settle(channel: string, node: string, event: WebhookEvent | undefined): Promise<boolean> {
    const e = encode(event);
    return (await this.redis.sbVacate(...this.keysOf(channel), node, Date.now(), channel, e.id, e.json, e.ts)) === 1;
  }

  async maintain(eventFor: ChannelEventFor): Promise<number> {
    await this.refresh();
    return this.sweep(eventFor);
  }

  /**
   * Pushes the expiry of this node's entries forward (`XX GT`: an entry a sweep removed is
   * not recreated). One pipeline: every key is in the `{webhooks}` slot.
   */
  private async refresh(): Promise<void> {
    if (this.mine.size === 0) return;
    const expiry = Date.now() + this.ttlMs;
    const p = this.redis.pipeline();
    const channels = [...this.mine];
    for (const channel of channels) p.zadd(this.keys.webhooks(`channel:${channel}`), 'XX', 'GT', expiry, this.node);
    for (let i = 0; i < channels.length; i += CHUNK) {
      p.zadd(this.keys.webhooks('occupied'), 'XX', 'GT', ...channels.slice(i, i + CHUNK).flatMap((c) => [expiry, c]));
    }
    const failed = ((await p.exec()) ?? []).find(([err]) => err);
    if (failed) this.log?.warn({ err: failed[0]?.message }, 'channel occupancy: refresh failed; retrying next interval');
  }

  /** Settles channels whose every node's entry expired (their nodes died); this node's own are refreshed instead. */
  private async sweep(eventFor: ChannelEventFor): Promise<number> {
    const stale = await this.redis.zrangebyscore(this.keys.webhooks('occupied'), '-inf', Date.now(), 'LIMIT', 0, SWEEP_LIMIT);
    let enqueued = 0;
    for (const channel of stale) {
      if (this.mine.has(channel)) continue;
      const event = eventFor('channel.vacated', channel);
      if ((await this.settle(channel, '', event)) && event) enqueued++;
    }
    return enqueued;
  }

  async leave(eventFor: ChannelEventFor): Promise<void> {
    for (const channel of [...this.mine]) await this.vacate(channel, eventFor('channel.vacated', channel));
  }
}

function encode(event: WebhookEvent | undefined): { id: string; json: string; ts: number } {
  return event ? { id: event.id, json: JSON.stringify(event), ts: event.ts } : { id: '', json: '', ts: 0 };
}
