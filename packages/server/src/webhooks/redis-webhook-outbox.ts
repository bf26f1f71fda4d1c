import { RedisKeys } from '../redis/keys.ts';
import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';
import { ADD, DUE, RETRY } from './redis-webhook-scripts.ts';
import { DUE_WINDOW, outboxKey, type OutboxEntry, type WebhookEvent, type WebhookOutbox } from './webhook-outbox.ts';

interface Scripts {
  sbHookAdd(seq: string, queue: string, events: string, state: string, id: string, json: string, nextAt: number, key: string): Promise<number>;
  sbHookDue(queue: string, events: string, state: string, now: number, limit: number, until: number, perKey: number, window: number): Promise<string[]>;
  sbHookRetry(state: string, id: string, attempts: number, nextAt: number): Promise<number>;
}

/** The outbox's keys (all under the `{webhooks}` hash tag: one Redis Cluster slot). */
export interface OutboxKeys {
  seq: string;
  queue: string;
  events: string;
  state: string;
}

/** The outbox keys under `keys`' prefix. */
export function outboxKeys(keys: RedisKeys): OutboxKeys {
  return { seq: keys.webhooks('seq'), queue: keys.webhooks('queue'), events: keys.webhooks('events'), state: keys.webhooks('state') };
}

/**
 * The webhook outbox in Redis, shared by every node of a cluster: a sorted set gives the
 * order (id → sequence), two hashes the events and their `attempts:nextAt:key`. `due` is one
 * Lua script (per key, the due entries from its oldest), so two nodes asking at once never get
 * the same entry, nor entries of one key out of order; what it answers is leased
 * (its nextAt pushed `leaseMs` ahead), so a node killed while delivering only delays the
 * event: once the lease runs out, any node delivers it. Every key has the `{webhooks}` hash
 * tag, so it works unchanged on a Redis Cluster. Durable as far as Redis is (persistence,
 * replicas): an event is in Redis before `add` resolves.
 */
export class RedisWebhookOutbox implements WebhookOutbox {
  readonly shared = true;
  private readonly redis: RedisClient & Scripts;
  private readonly k: OutboxKeys;

  constructor(o: { connection: RedisConnection; keys?: RedisKeys }) {
    this.redis = o.connection.redis as RedisClient & Scripts;
    this.k = outboxKeys(o.keys ?? new RedisKeys());
    this.redis.defineCommand('sbHookAdd', { numberOfKeys: 4, lua: ADD });
    this.redis.defineCommand('sbHookDue', { numberOfKeys: 3, lua: DUE });
    this.redis.defineCommand('sbHookRetry', { numberOfKeys: 1, lua: RETRY });
  }

  async add(event: WebhookEvent): Promise<void> {
    await this.redis.sbHookAdd(this.k.seq, this.k.queue, this.k.events, this.k.state, event.id, JSON.stringify(event), event.ts, outboxKey(event));
  }

  async due(now: number, limit: number, leaseMs: number, perKey = 1): Promise<OutboxEntry[]> {
    const flat = await this.redis.sbHookDue(this.k.queue, this.k.events, this.k.state, now, limit, now + leaseMs, perKey, DUE_WINDOW);
    const out: OutboxEntry[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      out.push({ event: JSON.parse(flat[i]!) as WebhookEvent, attempts: Number(flat[i + 1]), nextAt: Number(flat[i + 2]) });
    }
    return out;
  }

  async done(id: string): Promise<void> {
    const results = (await this.redis.multi().zrem(this.k.queue, id).hdel(this.k.events, id).hdel(this.k.state, id).exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async retry(id: string, attempts: number, nextAt: number): Promise<void> {
    await this.redis.sbHookRetry(this.k.state, id, attempts, nextAt);
  }

  async size(): Promise<number> {
    return this.redis.zcard(this.k.queue);
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}
