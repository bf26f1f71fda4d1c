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
 * - `due` answers the oldest entries in the order they were added, at most `limit`, stopping
 *   at the first one not due yet (`nextAt > now`): a waiting retry holds up later events, so
 *   they are delivered in order. What it answers is leased: not due again for `leaseMs`.
 * - `retry` updates attempts and `nextAt`; `done` removes (a missing id is a no-op).
 * - In a store shared by several nodes (Redis, `shared`), `due` is atomic: an entry is handed
 *   to one node at a time, and a node that dies holding it only delays it by the lease.
 */
export interface WebhookOutbox {
  /** True when several nodes deliver from it: each polls it even when it added nothing. */
  readonly shared?: boolean;
  add(event: WebhookEvent): Promise<void>;
  /** The due head of the queue at `now`, oldest first; leased to this caller for `leaseMs`. */
  due(now: number, limit: number, leaseMs: number): Promise<OutboxEntry[]>;
  done(id: string): Promise<void>;
  retry(id: string, attempts: number, nextAt: number): Promise<void>;
  /** How many events wait. */
  size(): Promise<number>;
  close(): Promise<void>;
}

/** The outbox in process memory (storage `memory`: lost on restart). */
export class MemoryWebhookOutbox implements WebhookOutbox {
  private readonly entries = new Map<string, OutboxEntry>();

  async add(event: WebhookEvent): Promise<void> {
    this.entries.set(event.id, { event, attempts: 0, nextAt: event.ts });
  }

  async due(now: number, limit: number, leaseMs: number): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for (const e of this.entries.values()) {
      if (out.length >= limit || e.nextAt > now) break;
      out.push({ ...e });
      e.nextAt = now + leaseMs;
    }
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
