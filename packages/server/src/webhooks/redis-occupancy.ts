import { RedisKeys } from '../redis/keys.ts';
import type { RedisClient, RedisConnection } from '../redis/connect.ts';
import type { Logger } from '../logger.ts';
import { FORGET, OCCUPY, VACATE } from './redis-webhook-scripts.ts';
import { outboxKeys, type OutboxKeys } from './redis-webhook-outbox.ts';
import { transitionType, type Occupancy, type Subject, type TransitionEventFor } from './occupancy.ts';
import type { WebhookEvent } from './webhook-outbox.ts';

type Keys = [nodes: string, held: string, live: string, announced: string, ready: string, queue: string, events: string, state: string];

interface Scripts {
  sbOccupy(...args: [...Keys, node: string, member: string, expiry: number, id: string, json: string, nextAt: number, lists: string]): Promise<number>;
  sbVacate(...args: [...Keys, node: string, member: string, now: number, id: string, json: string, nextAt: number, settling: '0' | '1', lists: string]): Promise<number>;
  sbForget(held: string, live: string, node: string, now: number): Promise<number>;
}

/** Dead nodes settled per sweep, and members per SSCAN step. */
const DEAD_PER_SWEEP = 20;
const SCAN_COUNT = 200;

/** A subject as a member of the node and announced sets: `c:<channel>` or `u:<user>`. */
function memberOf(subject: Subject): string {
  return `${subject.kind === 'channel' ? 'c' : 'u'}:${subject.name}`;
}

function subjectOf(member: string): Subject | undefined {
  const kind = member.startsWith('c:') ? 'channel' : member.startsWith('u:') ? 'user' : undefined;
  return kind && { kind, name: member.slice(2) };
}

/**
 * Occupancy in Redis, beside the webhook outbox under the `{webhooks}` hash tag (one Redis
 * Cluster slot), so deciding a transition and enqueueing its event is one Lua script. A
 * subject is `c:<channel>` or `u:<user>`: per subject the set of nodes holding it
 * (`{webhooks}:c:<channel>`, `{webhooks}:u:<user>`), per node the set of its subjects
 * (`{webhooks}:node:<id>`), the nodes' liveness (`{webhooks}:live`, node → expiry) and the
 * subjects announced up (`{webhooks}:announced`).
 *
 * Each node refreshes only its liveness every `intervalMs` (two commands, whatever it
 * holds). A node silent for `ttlMs` is dead: any node's sweep walks the dead node's set and
 * removes it from each subject, enqueueing the down event where it was the last. A node that
 * was taken for dead while alive (cut off from Redis longer than `ttlMs`) notices on its
 * next refresh (its set no longer matches what it holds) and takes its subjects again.
 * Shares the outbox's connection (which the outbox closes).
 */
export class RedisOccupancy implements Occupancy {
  readonly intervalMs: number;
  private readonly ttlMs: number;
  private readonly redis: RedisClient & Scripts;
  private readonly keys: RedisKeys;
  private readonly outbox: OutboxKeys;
  private readonly node: string;
  private readonly log: Logger | undefined;
  /** The members (`c:…`, `u:…`) this node holds, as reported to the store. */
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

  private keysOf(member: string, node: string): Keys {
    const { ready, queue, events, state } = this.outbox;
    return [this.keys.webhooks(member), this.nodeKey(node), this.keys.webhooks('live'), this.keys.webhooks('announced'), ready, queue, events, state];
  }

  async occupy(subject: Subject, event: WebhookEvent | undefined): Promise<boolean> {
    const member = memberOf(subject);
    this.mine.add(member);
    return this.take(member, event);
  }

  private async take(member: string, event: WebhookEvent | undefined): Promise<boolean> {
    const e = encode(event);
    return (await this.redis.sbOccupy(...this.keysOf(member, this.node), this.node, member, Date.now() + this.ttlMs, e.id, e.json, e.ts, this.outbox.lists)) === 1;
  }

  async vacate(subject: Subject, event: WebhookEvent | undefined): Promise<boolean> {
    const member = memberOf(subject);
    this.mine.delete(member);
    return this.settle(member, this.node, event, '0');
  }

  private async settle(member: string, node: string, event: WebhookEvent | undefined, settling: '0' | '1'): Promise<boolean> {
    const e = encode(event);
    return (await this.redis.sbVacate(...this.keysOf(member, node), node, member, Date.now(), e.id, e.json, e.ts, settling, this.outbox.lists)) === 1;
  }

  /** The event for a member going up or down (none for a malformed member). */
  private eventOf(eventFor: TransitionEventFor, member: string, up: boolean): WebhookEvent | undefined {
    const subject = subjectOf(member);
    return subject && eventFor(transitionType(subject.kind, up), subject);
  }

  async maintain(eventFor: TransitionEventFor): Promise<number> {
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

  /** Makes this node's set match what it holds again (it was taken for dead, or Redis lost it). */
  private async reconcile(eventFor: TransitionEventFor): Promise<number> {
    const held = new Set(await this.redis.smembers(this.nodeKey(this.node)));
    let enqueued = 0;
    let fixed = 0;
    // Each check is made right before its command: a transition of this node issued during
    // an earlier await is already in Redis' order, and must not be undone here.
    for (const member of [...this.mine]) {
      if (held.has(member) || !this.mine.has(member)) continue;
      fixed++;
      const event = this.eventOf(eventFor, member, true);
      if ((await this.take(member, event)) && event) enqueued++;
    }
    for (const member of held) {
      if (this.mine.has(member)) continue;
      fixed++;
      const event = this.eventOf(eventFor, member, false);
      if ((await this.settle(member, this.node, event, '0')) && event) enqueued++;
    }
    if (fixed > 0) this.log?.warn({ entries: fixed }, 'webhook occupancy: this node\'s entries in Redis were lost (taken for dead, or Redis lost data); restored');
    return enqueued;
  }

  /** Settles what nodes whose liveness expired held, then forgets those nodes. */
  private async sweep(eventFor: TransitionEventFor): Promise<number> {
    const now = Date.now();
    const dead = await this.redis.zrangebyscore(this.keys.webhooks('live'), '-inf', now, 'LIMIT', 0, DEAD_PER_SWEEP);
    let enqueued = 0;
    for (const node of dead) {
      if (node === this.node) continue;
      let cursor = '0';
      do {
        const [next, members] = await this.redis.sscan(this.nodeKey(node), cursor, 'COUNT', SCAN_COUNT);
        cursor = next;
        for (const member of members) {
          const event = this.eventOf(eventFor, member, false);
          if ((await this.settle(member, node, event, '1')) && event) enqueued++;
        }
      } while (cursor !== '0');
      await this.redis.sbForget(this.nodeKey(node), this.keys.webhooks('live'), node, now);
    }
    return enqueued;
  }
}

function encode(event: WebhookEvent | undefined): { id: string; json: string; ts: number } {
  return event ? { id: event.id, json: JSON.stringify(event), ts: event.ts } : { id: '', json: '', ts: 0 };
}
