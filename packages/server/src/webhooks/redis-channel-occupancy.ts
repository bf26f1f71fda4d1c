import { RedisKeys } from '../redis/keys.ts';
import type { RedisClient, RedisConnection } from '../redis/connect.ts';
import type { Logger } from '../logger.ts';
import { FORGET, OCCUPY, VACATE } from './redis-webhook-scripts.ts';
import { outboxKeys, type OutboxKeys } from './redis-webhook-outbox.ts';
import type { ChannelEventFor, ChannelOccupancy } from './channel-occupancy.ts';
import type { WebhookEvent } from './webhook-outbox.ts';

type Keys = [nodes: string, channels: string, live: string, announced: string, seq: string, queue: string, events: string, state: string];

interface Scripts {
  sbOccupy(...args: [...Keys, node: string, channel: string, expiry: number, id: string, json: string, nextAt: number]): Promise<number>;
  sbVacate(...args: [...Keys, node: string, channel: string, now: number, id: string, json: string, nextAt: number, settling: '0' | '1']): Promise<number>;
  sbForget(channels: string, live: string, node: string, now: number): Promise<number>;
}

/** Dead nodes settled per sweep, and channels per SSCAN step. */
const DEAD_PER_SWEEP = 20;
const SCAN_COUNT = 200;

/**
 * Channel occupancy in Redis, beside the webhook outbox under the `{webhooks}` hash tag (one
 * Redis Cluster slot), so deciding a transition and enqueueing its event is one Lua script.
 * Per channel the set of nodes with local subscribers (`{webhooks}:channel:<c>`), per node
 * the set of its channels (`{webhooks}:node:<id>`), the nodes' liveness (`{webhooks}:live`,
 * node → expiry) and the channels announced occupied (`{webhooks}:announced`).
 *
 * Each node refreshes only its liveness every `intervalMs` (two commands, whatever its
 * channel count). A node that stops for `ttlMs` is dead: any node's sweep walks the dead
 * node's channel set and removes it from each channel, enqueueing `channel.vacated` where
 * it was the last. A node that was taken for dead while alive (cut off from Redis longer
 * than `ttlMs`) notices on its next refresh (its channel set no longer matches its hub)
 * and takes its channels again, announcing them occupied where they were vacated.
 * Shares the outbox's connection (which the outbox closes).
 */
export class RedisChannelOccupancy implements ChannelOccupancy {
  readonly intervalMs: number;
  private readonly ttlMs: number;
  private readonly redis: RedisClient & Scripts;
  private readonly keys: RedisKeys;
  private readonly outbox: OutboxKeys;
  private readonly node: string;
  private readonly log: Logger | undefined;
  /** Channels this node has local subscribers of (as reported to the store). */
  private readonly mine = new Set<string>();

  constructor(o: { connection: RedisConnection; node: string; keys?: RedisKeys; ttlMs?: number; intervalMs?: number; log?: Logger }) {
    this.redis = o.connection.redis as RedisClient & Scripts;
    this.keys = o.keys ?? new RedisKeys();
    this.outbox = outboxKeys(this.keys);
    this.node = o.node;
    this.intervalMs = o.intervalMs ?? 5000;
    this.ttlMs = o.ttlMs ?? this.intervalMs * 3;
    this.log = o.log;
    this.redis.defineCommand('sbOccupy', { numberOfKeys: 8, lua: OCCUPY });
    this.redis.defineCommand('sbVacate', { numberOfKeys: 8, lua: VACATE });
    this.redis.defineCommand('sbForget', { numberOfKeys: 2, lua: FORGET });
  }

  private nodeKey(node: string): string {
    return this.keys.webhooks(`node:${node}`);
  }

  private keysOf(channel: string, node: string): Keys {
    const { seq, queue, events, state } = this.outbox;
    return [this.keys.webhooks(`channel:${channel}`), this.nodeKey(node), this.keys.webhooks('live'), this.keys.webhooks('announced'), seq, queue, events, state];
  }

  async occupy(channel: string, event: WebhookEvent | undefined): Promise<boolean> {
    this.mine.add(channel);
    return this.take(channel, event);
  }

  private async take(channel: string, event: WebhookEvent | undefined): Promise<boolean> {
    const e = encode(event);
    return (await this.redis.sbOccupy(...this.keysOf(channel, this.node), this.node, channel, Date.now() + this.ttlMs, e.id, e.json, e.ts)) === 1;
  }

  async vacate(channel: string, event: WebhookEvent | undefined): Promise<boolean> {
    this.mine.delete(channel);
    return this.settle(channel, this.node, event, '0');
  }

  private async settle(channel: string, node: string, event: WebhookEvent | undefined, settling: '0' | '1'): Promise<boolean> {
    const e = encode(event);
    return (await this.redis.sbVacate(...this.keysOf(channel, node), node, channel, Date.now(), e.id, e.json, e.ts, settling)) === 1;
  }

  async maintain(eventFor: ChannelEventFor): Promise<number> {
    const expected = this.mine.size;
    const results = (await this.redis.pipeline()
      .zadd(this.keys.webhooks('live'), Date.now() + this.ttlMs, this.node)
      .scard(this.nodeKey(this.node))
      .exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    let enqueued = 0;
    if (Number(results[1]?.[1]) !== expected) enqueued += await this.reconcile(eventFor);
    return enqueued + (await this.sweep(eventFor));
  }

  /** Makes this node's channel set match its hub again (it was taken for dead, or Redis lost it). */
  private async reconcile(eventFor: ChannelEventFor): Promise<number> {
    const held = new Set(await this.redis.smembers(this.nodeKey(this.node)));
    let enqueued = 0;
    let fixed = 0;
    for (const channel of [...this.mine]) {
      if (held.has(channel)) continue;
      fixed++;
      const event = eventFor('channel.occupied', channel);
      if ((await this.take(channel, event)) && event) enqueued++;
    }
    for (const channel of held) {
      if (this.mine.has(channel)) continue;
      fixed++;
      const event = eventFor('channel.vacated', channel);
      if ((await this.settle(channel, this.node, event, '0')) && event) enqueued++;
    }
    if (fixed > 0) this.log?.warn({ channels: fixed }, 'channel occupancy: this node\'s entries in Redis were lost (taken for dead, or Redis lost data); restored');
    return enqueued;
  }

  /** Settles the channels of nodes whose liveness expired, then forgets those nodes. */
  private async sweep(eventFor: ChannelEventFor): Promise<number> {
    const now = Date.now();
    const dead = await this.redis.zrangebyscore(this.keys.webhooks('live'), '-inf', now, 'LIMIT', 0, DEAD_PER_SWEEP);
    let enqueued = 0;
    for (const node of dead) {
      if (node === this.node) continue;
      let cursor = '0';
      do {
        const [next, channels] = await this.redis.sscan(this.nodeKey(node), cursor, 'COUNT', SCAN_COUNT);
        cursor = next;
        for (const channel of channels) {
          const event = eventFor('channel.vacated', channel);
          if ((await this.settle(channel, node, event, '1')) && event) enqueued++;
        }
      } while (cursor !== '0');
      await this.redis.sbForget(this.nodeKey(node), this.keys.webhooks('live'), node, now);
    }
    return enqueued;
  }

  async leave(eventFor: ChannelEventFor): Promise<void> {
    for (const channel of [...this.mine]) await this.vacate(channel, eventFor('channel.vacated', channel));
    await this.redis.zrem(this.keys.webhooks('live'), this.node);
  }
}

function encode(event: WebhookEvent | undefined): { id: string; json: string; ts: number } {
  return event ? { id: event.id, json: JSON.stringify(event), ts: event.ts } : { id: '', json: '', ts: 0 };
}
