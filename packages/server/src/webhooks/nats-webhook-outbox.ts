import { outboxKey, pickDue, type OutboxEntry, type WebhookEvent, type WebhookOutbox } from './webhook-outbox.ts';
import type { CasBucket } from '../nats/cas-bucket.ts';

/**
 * The webhook outbox on NATS, shared by every node: the waiting events, in the order they
 * were added, are one value of the cluster bucket, changed with `CasBucket` (so a lease is
 * taken by one node only and each event is delivered by one node). One value keeps the order
 * across keys exactly and bounds the outbox to what a KV value holds (the server's
 * `max_payload`, 1 MB by default): `webhooks.maxOutbox` should stay below what fits.
 */
export class NatsWebhookOutbox implements WebhookOutbox {
  readonly shared = true;
  private readonly bucket: CasBucket;
  private readonly key: string;

  constructor(o: { bucket: CasBucket; key: string }) {
    this.bucket = o.bucket;
    this.key = o.key;
  }

  private change<R>(f: (entries: OutboxEntry[]) => { entries: OutboxEntry[] | undefined; result: R }): Promise<R> {
    return this.bucket.update<OutboxEntry[], R>(this.key, (cur) => {
      const { entries, result } = f(cur ?? []);
      return { value: entries === undefined ? cur : entries.length > 0 ? entries : undefined, result };
    });
  }

  async add(event: WebhookEvent): Promise<void> {
    await this.change((entries) => ({ entries: entries.some((e) => e.event.id === event.id) ? undefined : [...entries, { event, attempts: 0, nextAt: event.ts }], result: undefined }));
  }

  due(now: number, limit: number, leaseMs: number, perKey = 1): Promise<OutboxEntry[]> {
    return this.change((entries) => {
      const picked = pickDue(entries, { now, limit, perKey, key: (e) => outboxKey(e.event), nextAt: (e) => e.nextAt });
      if (picked.length === 0) return { entries: undefined, result: [] };
      const ids = new Set(picked.map((e) => e.event.id));
      return { entries: entries.map((e) => (ids.has(e.event.id) ? { ...e, nextAt: now + leaseMs } : e)), result: picked.map((e) => ({ ...e })) };
    });
  }

  async done(id: string): Promise<void> {
    await this.change((entries) => ({ entries: entries.some((e) => e.event.id === id) ? entries.filter((e) => e.event.id !== id) : undefined, result: undefined }));
  }

  async retry(id: string, attempts: number, nextAt: number): Promise<void> {
    await this.change((entries) => ({ entries: entries.some((e) => e.event.id === id) ? entries.map((e) => (e.event.id === id ? { ...e, attempts, nextAt } : e)) : undefined, result: undefined }));
  }

  async size(): Promise<number> {
    return ((await this.bucket.get<OutboxEntry[]>(this.key)) ?? []).length;
  }

  async close(): Promise<void> {}
}
