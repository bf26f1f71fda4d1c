import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CloseCode } from '@switchboard/protocol';
import { FastHistogram } from './fast-histogram.ts';

/** What the gauges read at scrape time (nothing is updated per connection or subscription). */
export interface MetricsSource {
  connections: number;
  authenticated: number;
  users: number;
  channels: number;
  subscriptions: number;
  /** History reads in progress (`limits.historyReadsInFlight` at most). */
  historyReads: number;
  /** History reads waiting for a turn. */
  historyReadsWaiting: number;
}

/** What the webhook metrics read at scrape time (`Webhooks`). */
export interface WebhookMetricsSource {
  /** Deliveries this node made that the receiver accepted. */
  readonly delivered: number;
  /** Deliveries this node made that failed (each retry counts). */
  readonly failed: number;
  /** Events this node dropped after `webhooks.maxAttempts`, or because the outbox held `webhooks.maxQueued`. */
  readonly dropped: number;
  /** Events waiting in the outbox (cluster mode: the deployment's). */
  queued(): Promise<number>;
}

/** Which dependency a timed call went to. */
export type Dependency = 'broker' | 'history' | 'sessions' | 'presence' | 'logins' | 'access';

const KNOWN_CLOSES = new Set<number>([1000, 1001, 1005, 1006, 1009, 1011, ...Object.values(CloseCode)]);

/** Close codes are bounded to the known ones so a client cannot inflate label cardinality. */
function closeLabel(code: number): string {
  return KNOWN_CLOSES.has(code) ? String(code) : code >= 4000 && code <= 4999 ? 'application' : 'other';
}

/**
 * Prometheus metrics of one gateway (`prom-client`, one registry per server, no module
 * globals). The hot path only adds to plain numbers (`bytesIn`, `bytesOut` …) or calls
 * `delivered` once per publication; counters read those numbers when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Frames and bytes received from clients. */
  messagesIn = 0;
  bytesIn = 0;
  /** Bytes written to clients (every frame, batched or not). */
  bytesOut = 0;
  /** `message` frames queued to subscribers (a publication counts once per local subscriber). */
  messagesOut = 0;
  /** Publications fanned out by this node. */
  publications = 0;
  /** `error` replies sent (all codes). */
  errorReplies = 0;
  /** `error` replies sent, by code (the protocol's codes: a closed set). */
  readonly errorRepliesByCode = new Map<string, number>();
  /** HTTP-transport requests relayed to another node and waiting for its answer. */
  relayedInFlight = 0;

  private source: () => MetricsSource = () => ({ connections: 0, authenticated: 0, users: 0, channels: 0, subscriptions: 0, historyReads: 0, historyReadsWaiting: 0 });
  private readonly latency: FastHistogram;
  private readonly errors: Counter<'code'>;
  private readonly closes: Counter<'code'>;
  private readonly depLatency: Histogram<'dependency' | 'op'>;
  private readonly depErrors: Counter<'dependency' | 'op'>;
  private webhooks: WebhookMetricsSource | undefined;

  constructor(o: { processMetrics?: boolean } = {}) {
    const r = this.registry;
    const fromField = (name: string, help: string, read: () => number) => {
      let reported = 0;
      new Counter({
        name, help, registers: [r],
        collect() {
          const now = read();
          if (now > reported) this.inc(now - reported);
          reported = now;
        },
      });
    };
    fromField('switchboard_messages_in_total', 'Frames received from clients', () => this.messagesIn);
    fromField('switchboard_bytes_in_total', 'Bytes received from clients (frame payloads)', () => this.bytesIn);
    fromField('switchboard_messages_out_total', 'Publications delivered to local subscribers (one per subscriber)', () => this.messagesOut);
    fromField('switchboard_bytes_out_total', 'Bytes sent to clients (frame payloads)', () => this.bytesOut);
    fromField('switchboard_publications_total', 'Publications fanned out by this node', () => this.publications);
    const gauge = (name: string, help: string, key: keyof MetricsSource) => {
      const self = this;
      new Gauge({ name, help, registers: [r], collect() { this.set(self.source()[key]); } });
    };
    gauge('switchboard_connections', 'Open WebSocket connections (authenticated or not)', 'connections');
    gauge('switchboard_connections_authenticated', 'Authenticated connections', 'authenticated');
    gauge('switchboard_users', 'Distinct users connected to this node', 'users');
    gauge('switchboard_channels', 'Channels with at least one local subscriber', 'channels');
    gauge('switchboard_subscriptions', 'Subscriptions of local connections', 'subscriptions');
    gauge('switchboard_history_reads', 'History reads in progress (at most limits.historyReadsInFlight)', 'historyReads');
    gauge('switchboard_history_reads_waiting', 'History reads waiting for their turn', 'historyReadsWaiting');
    const self = this;
    new Gauge({
      name: 'switchboard_http_relayed', registers: [r],
      help: 'HTTP-transport requests relayed to the node holding their connection and waiting for its answer (at most transports.maxRelayedRequests)',
      collect() { this.set(self.relayedInFlight); },
    });
    fromField('switchboard_webhooks_delivered_total', 'Webhook deliveries of this node accepted by the receiver', () => this.webhooks?.delivered ?? 0);
    fromField('switchboard_webhooks_failed_total', 'Webhook deliveries of this node that failed (each retry counts)', () => this.webhooks?.failed ?? 0);
    fromField('switchboard_webhooks_dropped_total', 'Webhook events this node dropped after webhooks.maxAttempts or with the outbox full (webhooks.maxQueued)', () => this.webhooks?.dropped ?? 0);
    const metrics = this;
    new Gauge({
      name: 'switchboard_webhooks_queued', help: 'Webhook events waiting in the outbox (cluster mode: the whole deployment\'s)', registers: [r],
      // An unreachable outbox keeps the last value: a scrape never fails for it.
      async collect() {
        const n = await metrics.webhooks?.queued().catch(() => undefined);
        if (n !== undefined) this.set(n);
      },
    });
    this.latency = new FastHistogram({
      name: 'switchboard_publish_delivery_seconds',
      help: 'From publish accepted to queued for local subscribers (includes store and broker)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registry: r,
    });
    this.errors = new Counter({ name: 'switchboard_errors_total', help: 'Error replies sent, by error code', labelNames: ['code'], registers: [r] });
    this.closes = new Counter({ name: 'switchboard_closes_total', help: 'Connections closed, by close code', labelNames: ['code'], registers: [r] });
    this.depLatency = new Histogram({
      name: 'switchboard_dependency_seconds',
      help: 'Latency of broker and store calls',
      labelNames: ['dependency', 'op'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [r],
    });
    this.depErrors = new Counter({ name: 'switchboard_dependency_errors_total', help: 'Failed broker and store calls', labelNames: ['dependency', 'op'], registers: [r] });
    if (o.processMetrics !== false) collectDefaultMetrics({ register: r });
  }

  /** Where the webhook metrics read their values (the node's `Webhooks`, at construction). */
  setWebhookSource(source: WebhookMetricsSource): void {
    this.webhooks = source;
  }

  /** Where the gauges read their values (the node, at construction). */
  setSource(fn: () => MetricsSource): void {
    this.source = fn;
  }

  /** One publication fanned out to `subscribers` local subscribers; `ts` is when it was accepted (ms). */
  delivered(subscribers: number, ts: number): void {
    this.publications++;
    this.messagesOut += subscribers;
    this.latency.observe(Math.max(0, Date.now() - ts) / 1000);
  }

  /** An `error` reply was sent. */
  error(code: string): void {
    this.errorReplies++;
    this.errorRepliesByCode.set(code, (this.errorRepliesByCode.get(code) ?? 0) + 1);
    this.errors.inc({ code });
  }

  /** A connection closed with `code`. */
  closed(code: number): void {
    this.closes.inc({ code: closeLabel(code) });
  }

  /**
   * Wraps a broker or store so every method that returns a promise is timed
   * (`switchboard_dependency_seconds`) and its failures counted. Methods run on the
   * original object, so private fields keep working.
   */
  timed<T extends object>(dependency: Dependency, target: T): T {
    const wrapped = new WeakMap<object, unknown>();
    return new Proxy(target, {
      get: (t, prop) => {
        const v = Reflect.get(t, prop, t);
        if (typeof v !== 'function' || prop === 'constructor') return v;
        let w = wrapped.get(v);
        if (!w) {
          const op = String(prop);
          let timer: { observe(v: number): void } | undefined;
          w = (...args: unknown[]) => {
            const start = performance.now();
            const out = (v as (...a: unknown[]) => unknown).apply(t, args);
            if (!(out instanceof Promise)) return out;
            return out.then(
              (value) => { (timer ??= this.depLatency.labels(dependency, op)).observe((performance.now() - start) / 1000); return value; },
              (err) => { this.depErrors.inc({ dependency, op }); throw err; },
            );
          };
          wrapped.set(v, w);
        }
        return w;
      },
    });
  }

  /** The publish-to-delivery histogram's buckets (seconds) and counts, for the admin UI's p99. */
  deliveryLatency(): { bounds: readonly number[]; counts: number[] } {
    return this.latency.snapshot();
  }

  /** The exposition text for `/metrics`. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
