import { randomBytes } from 'node:crypto';

/** The events a deployment may ask for in `webhooks.events`. */
export const WEBHOOK_EVENTS = ['user.online', 'user.offline', 'channel.occupied', 'channel.vacated', 'member.added', 'member.removed', 'publication'] as const;
/**
 * Event types: those of `webhooks.events`, and those only other destinations take (a Pusher
 * app's `client_event` and `cache_miss`, see `WebhookSink`).
 */
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number] | 'pusher.client_event' | 'pusher.cache_miss';

/** One event as delivered: the JSON body of the POST. */
export interface WebhookEvent {
  /** Unique event id (`evt_…`): the same on every retry, so receivers can drop repeats. */
  id: string;
  type: WebhookEventType;
  /** Unix ms when it happened. */
  ts: number;
  user?: string;
  channel?: string;
  /** `publication` events: the publication as subscribers got it. */
  publication?: unknown;
  /**
   * While tracing: the W3C trace context of what emitted it, sent as the `traceparent`
   * header (never in the body) when it is delivered.
   */
  traceparent?: string;
  /** More fields of the event for the destinations that render it (a client event's name, data, socket id). */
  detail?: Record<string, unknown>;
  /**
   * Where it goes: destination ids (`switchboard`: `webhooks.url`; a `WebhookSink`'s id, such
   * as `pusher:<app id>`). Absent: `webhooks.url` alone.
   */
  to?: string[];
}

/** A new event with a fresh random id (`evt_` and 16 base64url characters), stamped `now`. */
export function newWebhookEvent(type: WebhookEventType, fields: Pick<WebhookEvent, 'user' | 'channel' | 'publication' | 'detail' | 'to'>, now = Date.now()): WebhookEvent {
  return { id: `evt_${randomBytes(12).toString('base64url')}`, type, ts: now, ...fields };
}

/**
 * The ordering key of an event: `c:<channel>` for an event about a channel (occupancy, members,
 * publications, a Pusher app's client events), `u:<user>` for one about a user alone. Events of
 * one key are delivered in the order they were added; events of different keys in parallel.
 */
export function outboxKey(event: Pick<WebhookEvent, 'channel' | 'user'>): string {
  if (event.channel !== undefined) return `c:${event.channel}`;
  return event.user !== undefined ? `u:${event.user}` : '';
}

/**
 * How many of the oldest events `due` looks at in SQLite and Postgres: an event further back
 * waits until the ones before it are delivered, so one call stays bounded however long the
 * queue (a key whose head is held up by a retry does not make every call read all of it).
 */
export const DUE_WINDOW = 2000;

/** An event waiting in the outbox. */
export interface OutboxEntry {
  event: WebhookEvent;
  /** Failed deliveries so far. */
  attempts: number;
  /** Unix ms before which it is not tried again. */
  nextAt: number;
}

/**
 * Durable queue of webhook events not yet accepted by the receiver. An event is added before
 * anything else is done about it, and removed only once the receiver answered 2xx, so a
 * restart (or a crash) loses none: the next start delivers what is left.
 *
 * Guarantees every implementation keeps (checked by `runWebhookOutboxContract`):
 * - Events are ordered per key (`outboxKey`: the channel, else the user). `due` answers due
 *   entries oldest first, at most `limit`, and at most `perKey` consecutive ones of a key, from
 *   that key's oldest entry: a key whose oldest entry is not due (`nextAt > now`: leased, or a
 *   retry waiting) gives nothing, so a key's events are never handed out out of order or
 *   while an earlier one is in flight, while other keys go on. What it answers is leased:
 *   not due again for `leaseMs`. SQL stores look at the oldest `DUE_WINDOW` entries at most.
 * - `retry` updates attempts and `nextAt`; `done` removes (a missing id is a no-op).
 * - In a store shared by several nodes (Redis, Postgres: `shared`), `due` is atomic: an entry
 *   is handed to one node at a time, and a node that dies holding it only delays its key by
 *   the lease.
 */
export interface WebhookOutbox {
  /** True when several nodes deliver from it: each polls it even when it added nothing. */
  readonly shared?: boolean;
  add(event: WebhookEvent): Promise<void>;
  /** Due entries at `now`, oldest first, at most `perKey` (default 1) per key; leased to this caller for `leaseMs`. */
  due(now: number, limit: number, leaseMs: number, perKey?: number): Promise<OutboxEntry[]>;
  done(id: string): Promise<void>;
  retry(id: string, attempts: number, nextAt: number): Promise<void>;
  /** How many events wait. */
  size(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Picks what `due` answers from entries in order (the selection every store makes, in memory,
 * SQL or Lua): per key, consecutive due entries from its oldest, at most `perKey`; a key whose
 * next entry is not due is closed for the rest of the pass.
 */
export function pickDue<T>(rows: Iterable<T>, o: { now: number; limit: number; perKey: number; key(row: T): string; nextAt(row: T): number }): T[] {
  const out: T[] = [];
  // key → entries taken (a closed key: Infinity).
  const taken = new Map<string, number>();
  for (const row of rows) {
    if (out.length >= o.limit) break;
    const key = o.key(row);
    const n = taken.get(key) ?? 0;
    if (n >= o.perKey) {
      taken.set(key, Infinity);
      continue;
    }
    if (o.nextAt(row) > o.now) {
      taken.set(key, Infinity);
      continue;
    }
    taken.set(key, n + 1);
    out.push(row);
  }
  return out;
}

/** The outbox in process memory (storage `memory`: lost on restart). */
export class MemoryWebhookOutbox implements WebhookOutbox {
  private readonly entries = new Map<string, OutboxEntry>();

  async add(event: WebhookEvent): Promise<void> {
    if (!this.entries.has(event.id)) this.entries.set(event.id, { event, attempts: 0, nextAt: event.ts });
  }

  async due(now: number, limit: number, leaseMs: number, perKey = 1): Promise<OutboxEntry[]> {
    const picked = pickDue(this.entries.values(), { now, limit, perKey, key: (e) => outboxKey(e.event), nextAt: (e) => e.nextAt });
    const out = picked.map((e) => ({ ...e }));
    for (const e of picked) e.nextAt = now + leaseMs;
    return out;
  }

  async done(id: string): Promise<void> {
    this.entries.delete(id);
  }

  async retry(id: string, attempts: number, nextAt: number): Promise<void> {
    const e = this.entries.get(id);
    if (e) Object.assign(e, { attempts, nextAt });
  }

  async size(): Promise<number> {
    return this.entries.size;
  }

  async close(): Promise<void> {}
}
