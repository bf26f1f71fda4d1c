import { ReplyError, type FrameId, type Publication } from '@switchboard/protocol';
import type { Broker } from '../broker/broker.ts';
import type { ResolvedChannel } from '../channels.ts';
import type { HistoryStore } from '../history/history-store.ts';
import type { UnavailableReporter } from '../unavailable.ts';
import type { Webhooks } from '../webhooks/webhooks.ts';
import { MAX_DATA_DEPTH, withinDepth } from '../json-depth.ts';
import { TRACING_OFF, type Tracing } from '../tracing/tracing.ts';

/**
 * A publication on its way through the broker while tracing: it carries the W3C
 * `traceparent` of its `publish` span, so every node's fan-out joins the trace. Only the
 * broker's copy has it (and history's, where the store publishes what it appends); the
 * receiving node takes it off before fan-out, and no protocol encoder reads it.
 */
export type TracedPublication = Publication & { traceparent?: string };

/** Who published, for `from`, `id` and hooks. */
export interface PublishMeta {
  from?: string;
  /** Idempotency key. */
  id?: FrameId;
  /** Whose idempotency keys `id` is among when there is no `from` (default `api`, the server API's). */
  publisher?: string;
  /** A connection id not to deliver it to live (its sender; a Pusher trigger's `socket_id`). */
  except?: string;
  /** The publication's tags (checked by the caller: `tagsProblem`), matched by subscribers' filters. */
  tags?: Record<string, string>;
}

/** What a publication's ack carries. */
export interface PublishResult {
  epoch?: string;
  offset?: number;
  duplicate: boolean;
}

/** What publishing needs: the history store (and idempotency), the broker, webhooks. */
export interface PublisherOptions {
  history: HistoryStore;
  broker: Pick<Broker, 'publish'>;
  webhooks: Pick<Webhooks, 'emit'>;
  failures: UnavailableReporter;
  /** How long an idempotency key is remembered (ms, `dedupWindow`). */
  dedupWindowMs: number;
  /** Traces (docs/tracing.md); off when absent. */
  tracing?: Tracing;
}

/**
 * Publishing, whoever publishes (a client's `publish`/`send`, the server API, the
 * transactional outbox): stored first where the namespace keeps history, deduplicated by
 * idempotency key, then handed to the broker for every node.
 */
export class Publisher {
  private readonly o: PublisherOptions;
  private readonly tracing: Tracing;

  constructor(o: PublisherOptions) {
    this.o = o;
    this.tracing = o.tracing ?? TRACING_OFF;
  }

  /**
   * Publishes to a channel: stores it first when the namespace keeps history (the promise
   * resolves only after it is stored), then hands it to the broker for every node.
   * An `id` seen from the same publisher (`meta.from`, else the server API) within the dedup
   * window is acknowledged as a duplicate and not delivered.
   * A store or broker failure rejects with a temporary `ReplyError('internal')`.
   */
  async publish(ch: ResolvedChannel, data: unknown, meta: PublishMeta = {}): Promise<PublishResult> {
    if (!withinDepth(data)) throw new ReplyError('bad_request', `data nests deeper than ${MAX_DATA_DEPTH} levels`);
    if (this.tracing.enabled) return this.tracedPublish(ch, data, meta);
    try {
      return await this.storeAndPublish(ch, data, meta);
    } catch (err) {
      throw this.o.failures.unavailable(err, 'publish');
    }
  }

  /** `publish` as a span, with its store and broker steps as children (docs/tracing.md). */
  private tracedPublish(ch: ResolvedChannel, data: unknown, meta: PublishMeta): Promise<PublishResult> {
    const attributes = { 'messaging.system': 'switchboard', 'messaging.operation.type': 'publish', 'messaging.destination.name': ch.name, 'switchboard.namespace': ch.namespace };
    return this.tracing.span('switchboard publish', { kind: 'producer', attributes }, async (span) => {
      try {
        const r = await this.storeAndPublish(ch, data, meta);
        if (r.offset !== undefined) span.setAttribute('switchboard.offset', r.offset);
        span.setAttribute('switchboard.duplicate', r.duplicate);
        return r;
      } catch (err) {
        throw this.o.failures.unavailable(err, 'publish');
      }
    });
  }

  /** A step of a traced publication as a child span; the step alone when tracing is off. */
  private step<T>(name: string, f: () => Promise<T>): Promise<T> {
    return this.tracing.enabled ? this.tracing.span(name, { kind: 'client' }, f) : f();
  }

  /** The broker's copy of a publication: with the active span's `traceparent` when tracing. */
  private forBroker(pub: Publication): Publication {
    if (!this.tracing.enabled) return pub;
    const traceparent = this.tracing.traceparent();
    return traceparent === undefined ? pub : ({ ...pub, traceparent } as TracedPublication);
  }

  private async storeAndPublish(ch: ResolvedChannel, data: unknown, meta: PublishMeta): Promise<PublishResult> {
    const base: Publication = { channel: ch.name, data, ts: Date.now() };
    if (meta.from !== undefined) base.from = meta.from;
    if (meta.id !== undefined) base.id = meta.id;
    if (meta.except !== undefined) base.except = meta.except;
    if (meta.tags !== undefined) base.tags = meta.tags;
    // Idempotency keys are per publisher: a client's user, or the server API's own space.
    const publisher = meta.from !== undefined ? `u:${meta.from}` : meta.publisher ?? 'api';
    if (ch.history) {
      const options = { ...ch.history, idempotencyKey: meta.id, publisher, dedupWindowMs: this.o.dedupWindowMs };
      if (this.o.history.appendAndPublish) {
        // The store published it atomically with storing it (offset order across nodes).
        const appendAndPublish = this.o.history.appendAndPublish.bind(this.o.history);
        const r = await this.step('switchboard history append+publish', () => appendAndPublish(ch.name, this.forBroker(base), options));
        if (!r.duplicate) this.publicationWebhook(ch, { ...base, epoch: r.epoch, offset: r.offset });
        return { epoch: r.epoch, offset: r.offset, duplicate: r.duplicate };
      }
      const r = await this.step('switchboard history append', () => this.o.history.append(ch.name, base, options));
      if (r.duplicate) return { epoch: r.epoch, offset: r.offset, duplicate: true };
      base.epoch = r.epoch;
      base.offset = r.offset;
      await this.step('switchboard broker publish', () => this.o.broker.publish(ch.name, this.forBroker(base)));
      this.publicationWebhook(ch, base);
      return { epoch: r.epoch, offset: r.offset, duplicate: false };
    }
    if (meta.id !== undefined && !(await this.o.history.claimKey(ch.name, meta.id, this.o.dedupWindowMs, publisher))) {
      return { duplicate: true };
    }
    await this.step('switchboard broker publish', () => this.o.broker.publish(ch.name, this.forBroker(base)));
    this.publicationWebhook(ch, base);
    return { duplicate: false };
  }

  /** A `publication` webhook for namespaces with `publicationWebhooks`. */
  private publicationWebhook(ch: ResolvedChannel, pub: Publication): void {
    if (!ch.options.publicationWebhooks) return;
    const { except: _except, ...publication } = pub; // a connection id is nobody's business
    this.o.webhooks.emit('publication', { channel: ch.name, publication });
  }

}
