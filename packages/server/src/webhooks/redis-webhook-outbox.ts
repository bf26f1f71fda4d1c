import { RedisKeys } from '../redis/keys.ts';
import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';
import { ADD, DONE, DUE, RETRY } from './redis-webhook-scripts.ts';
import { outboxKey, type OutboxEntry, type WebhookEvent, type WebhookOutbox } from './webhook-outbox.ts';

interface Scripts {
  sbHookAdd(ready: string, queue: string, events: string, state: string, id: string, json: string, nextAt: number, key: string, prefix: string): Promise<number>;
  sbHookDue(ready: string, queue: string, events: string, state: string, now: number, limit: number, until: number, perKey: number, prefix: string): Promise<string[]>;
  sbHookDone(ready: string, events: string, state: string, id: string, prefix: string): Promise<number>;
  sbHookRetry(ready: string, events: string, state: string, id: string, attempts: number, nextAt: number, prefix: string): Promise<number>;
}

/** The outbox's keys (all under the `{webhooks}` hash tag: one Redis Cluster slot). */
export interface OutboxKeys {
  ready: string;
  /** The single line of earlier versions (moved to the keys' lists when found). */
  queue: string;
  events: string;
  state: string;
  /** Prefix of each ordering key's list of event ids (`q:<key>`). */
  lists: string;
}

/** The outbox keys under `keys`' prefix. */
export function outboxKeys(keys: RedisKeys): OutboxKeys {
  return { ready: keys.webhooks('ready'), queue: keys.webhooks('queue'), events: keys.webhooks('events'), state: keys.webhooks('state'), lists: keys.webhooks('q:') };
}

/**
 * The webhook outbox in Redis, shared by every node of a cluster: per ordering key (the
 * channel, else the user) a list of its event ids in order, a sorted set of the keys by when
 * their oldest event is due, and two hashes, the events and their `attempts:nextAt:key`. `due`
 * is one Lua script reading only the keys that are due (however long the queue), so two nodes
 * asking at once never get the same entry, nor entries of one key out of order; what it
 * answers is leased (its nextAt pushed `leaseMs` ahead), so a node killed while delivering
 * only delays its key: once the lease runs out, any node delivers it. Every key has the
 * `{webhooks}` hash tag, so it works unchanged on a Redis Cluster. Durable as far as Redis is
 * (persistence, replicas): an event is in Redis before `add` resolves.
 */
export class RedisWebhookOutbox implements WebhookOutbox {
  readonly shared = true;
  private readonly redis: RedisClient & Scripts;
  private readonly k: OutboxKeys;

  constructor(o: { connection: RedisConnection; keys?: RedisKeys }) {
    this.redis = o.connection.redis as RedisClient & Scripts;
    this.k = outboxKeys(o.keys ?? new RedisKeys());
    this.redis.defineCommand('sbHookAdd', { numberOfKeys: 4, lua: ADD });
    this.redis.defineCommand('sbHookDue', { numberOfKeys: 4, lua: DUE });
    this.redis.defineCommand('sbHookDone', { numberOfKeys: 3, lua: DONE });
    this.redis.defineCommand('sbHookRetry', { numberOfKeys: 3, lua: RETRY });
  }

  async add(event: WebhookEvent): Promise<void> {
    const k = this.k;
    await this.redis.sbHookAdd(k.ready, k.queue, k.events, k.state, event.id, JSON.stringify(event), event.ts, outboxKey(event), k.lists);
  }

  async due(now: number, limit: number, leaseMs: number, perKey = 1): Promise<OutboxEntry[]> {
    const k = this.k;
    const flat = await this.redis.sbHookDue(k.ready, k.queue, k.events, k.state, now, limit, now + leaseMs, perKey, k.lists);
    const out: OutboxEntry[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      out.push({ event: JSON.parse(flat[i]!) as WebhookEvent, attempts: Number(flat[i + 1]), nextAt: Number(flat[i + 2]) });
    }
    return out;
  }

  async done(id: string): Promise<void> {
    await this.redis.sbHookDone(this.k.ready, this.k.events, this.k.state, id, this.k.lists);
  }

  async retry(id: string, attempts: number, nextAt: number): Promise<void> {
    await this.redis.sbHookRetry(this.k.ready, this.k.events, this.k.state, id, attempts, nextAt, this.k.lists);
  }

  async size(): Promise<number> {
    return this.redis.hlen(this.k.events);
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}
