import { createHmac } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { LimitedLog } from '../log-limit.ts';
import { newWebhookEvent, type OutboxEntry, type WebhookEvent, type WebhookEventType, type WebhookOutbox } from './webhook-outbox.ts';
import { transitionType, type Occupancy, type Subject, type TransitionEventFor } from './occupancy.ts';
import { SWITCHBOARD_DESTINATION, type WebhookRequest, type WebhookSink } from './webhook-sink.ts';
import { TRACING_OFF, traceHeaders, type Tracing } from '../tracing/tracing.ts';
import { WebhookPoster } from './webhook-post.ts';

/** `webhooks` as configured. */
export interface WebhooksConfig {
  url: string | null;
  secret: string | null;
  events: readonly WebhookEventType[];
  timeoutMs: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  maxAttempts: number;
  /** Events the outbox may hold before new ones are dropped (absent: no bound). */
  maxQueued?: number;
  /** Requests in flight at once from this node (absent: 1); events of one channel or user never overlap. */
  concurrency?: number;
  /** Events per request, the body `{"events": [...]}` (absent or 0: one event per request, the event itself). */
  batch?: number;
}

/** Header carrying `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. */
const SIGNATURE_HEADER = 'x-switchboard-signature';
/** Header carrying the Unix seconds the signature was made at. */
const TIMESTAMP_HEADER = 'x-switchboard-timestamp';

/** The signature of one delivery: hex HMAC-SHA256 over `"<timestamp>.<body>"`. */
function signWebhook(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * Sends webhook events: `emit` stores an event in the durable outbox (never blocking the
 * caller), and a delivery loop POSTs due events, signed, up to `concurrency` requests at once
 * (each one event, or up to `batch` events in one body). A 2xx answer removes the event;
 * anything else (another status, a redirect, no answer within `timeoutMs`) keeps it for a
 * retry after `retryDelayMs`, doubling up to `maxRetryDelayMs`, at most `maxAttempts` tries
 * (then it is dropped with an error log). Events are ordered per key (the channel, else the
 * user: `outboxKey`): the outbox hands out a key's next event only once the one before is
 * done, so a failing event holds up the later ones of its channel or user, and a receiver
 * sees those in order, while other channels and users go on. Logs never carry the secret or
 * bodies.
 *
 * Cluster mode: the outbox is shared (Redis, Postgres) and every node's loop polls it, taking
 * due events under a lease; channel and user transitions go through `occupancy`, which
 * decides them cluster-wide and enqueues their events itself.
 */
export class Webhooks {
  readonly config: WebhooksConfig;
  /** Deliveries of this node the receiver accepted (metrics). */
  delivered = 0;
  /** Failed deliveries of this node, retries included (metrics). */
  failed = 0;
  /** Events this node dropped after `maxAttempts`, or because the outbox held `maxQueued` (metrics). */
  dropped = 0;
  /** The outbox's size as last read, and when (ms): `emit` checks `maxQueued` against it. */
  private queuedSeen = { size: 0, at: 0 };
  private queuedReading: Promise<void> | undefined;
  /** Events refused because the outbox was full log once in 30 s, with how many were suppressed. */
  private readonly fullLog: LimitedLog;
  private readonly outbox: WebhookOutbox;
  private readonly log: Logger;
  private readonly poster: WebhookPoster;
  private readonly wanted: ReadonlySet<WebhookEventType>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly occupancy: Occupancy | undefined;
  /** `presence.offlineGraceMs`: a user's last local connection gone this long is reported down. */
  private readonly graceMs: number;
  /** user → the grace timer of its last local connection's end (cluster mode). */
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();
  private maintainer: NodeJS.Timeout | undefined;
  /** Loop and maintenance failures (an unreachable Redis) log once in 30 s each, with how many were suppressed. */
  private readonly loopFailures: LimitedLog;
  /** Destinations besides `webhooks.url`, by id (a Pusher app's webhooks). */
  private readonly sinks = new Map<string, WebhookSink>();
  private readonly eventFor: TransitionEventFor = (type, subject) => {
    const channel = subject.kind === 'channel' ? subject.name : undefined;
    const to = this.destinations(type, channel);
    return to ? newWebhookEvent(type, { ...(channel !== undefined ? { channel } : { user: subject.name }), ...to }) : undefined;
  };

  private readonly tracing: Tracing;

  constructor(o: {
    config: WebhooksConfig; outbox: WebhookOutbox; log: Logger; occupancy?: Occupancy; offlineGraceMs?: number;
    /** Destinations of their own format (`WebhookSink`), beside `config.url`. */
    sinks?: readonly WebhookSink[];
    /** Traces: each delivery a client span of the trace that emitted the event (docs/tracing.md). */
    tracing?: Tracing;
  }) {
    this.tracing = o.tracing ?? TRACING_OFF;
    for (const sink of o.sinks ?? []) this.sinks.set(sink.id, sink);
    this.occupancy = o.occupancy;
    this.graceMs = o.offlineGraceMs ?? 0;
    this.loopFailures = new LimitedLog(o.log, { perWindow: 1, windowMs: 30_000 });
    this.fullLog = new LimitedLog(o.log, { perWindow: 1, windowMs: 30_000 });
    this.config = o.config;
    this.outbox = o.outbox;
    this.log = o.log;
    this.poster = new WebhookPoster({ maxSockets: Math.max(1, o.config.concurrency ?? 1) });
    this.wanted = new Set(o.config.url ? o.config.events : []);
  }

  /** Events waiting in the outbox (cluster mode: the deployment's); 0 without webhooks. */
  async queued(): Promise<number> {
    return (this.wanted.size === 0 && this.sinks.size === 0) || this.closed ? 0 : this.outbox.size();
  }

  /**
   * Where an event of `type` about `channel` goes: `{}` when only to `webhooks.url`, `{to}`
   * when a sink takes it too (or alone), undefined when nobody takes it.
   */
  private destinations(type: WebhookEventType, channel: string | undefined): { to?: string[] } | undefined {
    const mine = this.wanted.has(type);
    if (this.sinks.size === 0) return mine ? {} : undefined;
    const to = mine ? [SWITCHBOARD_DESTINATION] : [];
    for (const sink of this.sinks.values()) if (sink.wants(type, channel)) to.push(sink.id);
    if (to.length === 0) return undefined;
    return mine && to.length === 1 ? {} : { to };
  }

  /** Starts delivering what the outbox holds (events left by an earlier run included). */
  start(): void {
    if (this.wanted.size > 0 || this.sinks.size > 0) this.kick();
    if (this.occupancy && (this.wantsKind('channel') || this.wantsKind('user'))) {
      const o = this.occupancy;
      // At once (the node is live from its start, and settles nodes that died meanwhile), then periodically.
      const maintain = () => {
        o.maintain(this.eventFor).then((n) => n > 0 && this.kick(), (err) => this.loopFailures.warn({ err: (err as Error).message }, 'webhook occupancy: maintenance failed; retrying'));
      };
      maintain();
      this.maintainer = setInterval(maintain, o.intervalMs);
      this.maintainer.unref();
    }
  }

  /** True when either event of a kind of subject is sent. */
  private wantsKind(kind: Subject['kind']): boolean {
    if (this.wanted.has(transitionType(kind, true)) || this.wanted.has(transitionType(kind, false))) return true;
    // Sinks take channel events only (a channel of theirs: decided per event).
    return kind === 'channel' && this.sinks.size > 0;
  }

  /** True when user events come from the presence settlement (`emit`), not from `user` (cluster occupancy). */
  get usersFromPresence(): boolean {
    return this.occupancy === undefined;
  }

  /**
   * This node's first subscriber of a channel appeared (`occupied`) or its last one left
   * (`vacated`). On one node that is the channel's transition; in a cluster the occupancy
   * store decides whether it is one cluster-wide and enqueues the event once.
   */
  channel(transition: 'occupied' | 'vacated', channel: string): void {
    if (!this.occupancy) return this.emit(transition === 'occupied' ? 'channel.occupied' : 'channel.vacated', { channel });
    this.transition({ kind: 'channel', name: channel }, transition === 'occupied');
  }

  /**
   * Cluster mode: this node's first connection of a user authenticated (`up`) or its last
   * one closed (`down`: reported after `presence.offlineGraceMs` unless one came back). The
   * occupancy store makes `user.online` / `user.offline` once cluster-wide. Single node:
   * nothing (user events come from the presence settlement through `emit`).
   */
  user(transition: 'up' | 'down', user: string): void {
    if (!this.occupancy || this.closed || !this.wantsKind('user')) return;
    const pending = this.graceTimers.get(user);
    if (transition === 'up') {
      clearTimeout(pending);
      // Still held in the store while its grace ran: nothing to report.
      if (pending === undefined) this.transition({ kind: 'user', name: user }, true);
      this.graceTimers.delete(user);
      return;
    }
    if (pending !== undefined) return;
    const t = setTimeout(() => {
      this.graceTimers.delete(user);
      this.transition({ kind: 'user', name: user }, false);
    }, this.graceMs);
    t.unref();
    this.graceTimers.set(user, t);
  }

  private transition(subject: Subject, up: boolean): void {
    if (this.closed || !this.wantsKind(subject.kind)) return;
    const o = this.occupancy!;
    const type = transitionType(subject.kind, up);
    const event = this.eventFor(type, subject);
    (up ? o.occupy(subject, event) : o.vacate(subject, event)).then(
      (enqueued) => enqueued && event && this.kick(),
      (err) => this.log.error({ err, type }, 'webhook occupancy: transition could not be stored; made on the next refresh'),
    );
  }

  /**
   * Records an event (when its type is wanted) and wakes the delivery loop. While the outbox
   * holds `maxQueued` events the event is dropped instead (counted in `dropped`, logged at
   * most once in 30 s). The size is read from the store at most once a second and counted
   * up by this node's adds in between; in cluster mode other nodes' adds show at the next read.
   */
  emit(type: WebhookEventType, fields: Pick<WebhookEvent, 'user' | 'channel' | 'publication' | 'detail'>): void {
    if (this.closed) return;
    const to = this.destinations(type, fields.channel);
    if (!to) return;
    const max = this.config.maxQueued ?? Infinity;
    if (this.queuedSeen.size >= max) {
      this.dropped++;
      this.fullLog.error({ type, maxQueued: max }, 'webhook dropped: the outbox holds webhooks.maxQueued events (is the receiver down?)');
      return;
    }
    const event: WebhookEvent = newWebhookEvent(type, { ...fields, ...to });
    // Traced: the delivery (later, perhaps by another node) continues the trace that emitted it.
    if (this.tracing.enabled) {
      const traceparent = this.tracing.traceparent();
      if (traceparent !== undefined) event.traceparent = traceparent;
    }
    this.queuedSeen.size++;
    this.outbox.add(event).then(() => this.kick(), (err) => this.log.error({ err, type }, 'webhook outbox: event could not be stored'));
    // After the add: a store that adds at once (SQLite, memory) is read with this event in it.
    this.refreshQueued();
  }

  /** Reads the outbox's size again when the last reading is a second old (one read at a time). */
  private refreshQueued(): void {
    const now = Date.now();
    if (this.queuedReading || now - this.queuedSeen.at < 1000) return;
    this.queuedReading = this.outbox.size().then(
      (size) => void (this.queuedSeen = { size, at: Date.now() }),
      () => void (this.queuedSeen.at = Date.now()),
    ).finally(() => (this.queuedReading = undefined));
  }

  /** Stops the loop (waiting for a delivery under way); what is left stays in the outbox. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.maintainer);
    // What this node holds is settled by the others once its liveness expires: a client
    // that reconnects elsewhere meanwhile causes no offline/online or vacated/occupied flap.
    for (const t of this.graceTimers.values()) clearTimeout(t);
    this.graceTimers.clear();
    await this.running;
    await Promise.all(this.jobs);
    this.poster.close();
    await this.outbox.close();
  }

  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.drain().catch((err) => {
      // The outbox is unreachable (Redis down): try again later, whoever adds events.
      this.loopFailures.error({ err: (err as Error).message }, 'webhook delivery loop failed; retrying');
      this.wakeLater();
    }).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** How long an entry handed to this node stays its own: every request it may take, and then some. */
  private leaseMs(): number {
    const perEvent = 1 + this.sinks.size;
    return this.config.timeoutMs * (this.batchSize > 0 ? 1 + this.sinks.size * this.batchSize : perEvent) + 5000;
  }

  private get batchSize(): number {
    return this.config.batch ?? 0;
  }

  /**
   * Takes due events while requests are free and starts them: one event per request, or a
   * batch of up to `batch` events (several of one key in order) per request. The outbox hands
   * out a key's events only once the earlier ones are done, so events of one channel or user
   * never overlap and arrive in order, while other keys go on in parallel. A finished request
   * wakes the loop again.
   */
  private async drain(): Promise<void> {
    const lease = this.leaseMs();
    const concurrency = Math.max(1, this.config.concurrency ?? 1);
    const batch = this.batchSize;
    for (;;) {
      if (this.closed) return;
      const free = concurrency - this.jobs.size;
      if (free <= 0) return;
      const entries = batch > 0 ? await this.outbox.due(Date.now(), batch, lease, batch) : await this.outbox.due(Date.now(), free, lease, 1);
      if (entries.length === 0) break;
      if (batch > 0) this.startJob(entries);
      else for (const entry of entries) this.startJob([entry]);
    }
    await this.scheduleNext();
  }

  /** Requests in flight (close waits for them). */
  private readonly jobs = new Set<Promise<void>>();

  private startJob(entries: OutboxEntry[]): void {
    const job: Promise<void> = (entries.length === 1 && this.batchSize === 0 ? this.deliver(entries[0]!) : this.deliverBatch(entries))
      .then(() => undefined, (err) => this.loopFailures.error({ err: (err as Error).message }, 'webhook delivery could not be settled in the outbox; retried after its lease'))
      .finally(() => {
        this.jobs.delete(job);
        this.kick();
      });
    this.jobs.add(job);
  }

  /**
   * Wakes the loop when the next entry is due (at most a retry delay from now). A shared
   * outbox is polled even when empty: other nodes add to it, or die holding a lease.
   */
  private async scheduleNext(): Promise<void> {
    if (this.closed || (!this.outbox.shared && (await this.outbox.size()) === 0)) return;
    this.wakeLater();
  }

  private wakeLater(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), Math.min(this.config.retryDelayMs, 1000));
    this.timer.unref();
  }

  /** The request delivering `event` to destination `to` (undefined: a destination no longer configured). */
  private requestFor(event: WebhookEvent, to: string): WebhookRequest | undefined {
    if (to !== SWITCHBOARD_DESTINATION) return this.sinks.get(to)?.request(event);
    if (!this.config.url || !this.config.secret) return undefined;
    // The trace context travels in the traceparent header, not in the body.
    const { to: _to, traceparent: _trace, ...shown } = event;
    const body = JSON.stringify(shown);
    const timestamp = Math.floor(Date.now() / 1000);
    return {
      url: this.config.url,
      body,
      headers: {
        'content-type': 'application/json',
        'x-switchboard-event': event.type,
        'x-switchboard-event-id': event.id,
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: `v1=${signWebhook(this.config.secret, timestamp, body)}`,
      },
    };
  }

  /**
   * One attempt: the event to each of its destinations in turn; true when every one accepted
   * it (or it was dropped after maxAttempts). A destination that fails has the whole event
   * retried: those that accepted it before may get it again (delivery is at least once).
   */
  private async deliver(entry: OutboxEntry): Promise<boolean> {
    if (!this.tracing.enabled) return this.attempt(entry);
    const { event } = entry;
    return this.tracing.span(`switchboard webhook ${event.type}`, {
      kind: 'client', parent: event.traceparent,
      attributes: { 'http.request.method': 'POST', 'switchboard.webhook.event': event.type, 'switchboard.webhook.attempt': entry.attempts + 1 },
    }, () => this.attempt(entry));
  }

  private async attempt(entry: OutboxEntry): Promise<boolean> {
    const { event } = entry;
    let why: string | undefined;
    for (const to of event.to ?? [SWITCHBOARD_DESTINATION]) {
      const req = this.requestFor(event, to);
      if (!req) continue; // configured away since it was stored: nobody to send it to
      why = await this.post(req);
      if (why !== undefined) break;
    }
    if (why === undefined) {
      this.delivered++;
      await this.outbox.done(event.id);
      return true;
    }
    this.failed++;
    return this.failedAttempt(entry, why);
  }

  /** Counts a failed attempt of `entry`: retried later (false), or dropped after `maxAttempts` (true). */
  private async failedAttempt(entry: OutboxEntry, why: string): Promise<boolean> {
    const { event } = entry;
    const attempts = entry.attempts + 1;
    if (attempts >= this.config.maxAttempts) {
      this.dropped++;
      this.log.error({ event: event.id, type: event.type, attempts, why }, 'webhook dropped after webhooks.maxAttempts failed deliveries');
      await this.outbox.done(event.id);
      return true;
    }
    const delay = Math.min(this.config.maxRetryDelayMs, this.config.retryDelayMs * 2 ** (attempts - 1));
    this.log.warn({ event: event.id, type: event.type, attempts, why, retryInMs: delay }, 'webhook delivery failed; will retry');
    await this.outbox.retry(event.id, attempts, Date.now() + delay);
    return false;
  }

  /** A batch of events as one attempt (see `attemptBatch`), traced as one client span. */
  private async deliverBatch(entries: OutboxEntry[]): Promise<void> {
    if (!this.tracing.enabled) return this.attemptBatch(entries);
    return this.tracing.span('switchboard webhook batch', {
      kind: 'client', parent: entries[0]!.event.traceparent,
      attributes: { 'http.request.method': 'POST', 'switchboard.webhook.events': entries.length },
    }, () => this.attemptBatch(entries));
  }

  /**
   * One attempt of a batch: the events for `webhooks.url` in one request, `{"events": [...]}`
   * (in the order the outbox gave them: per key, oldest first), then each event to its other
   * destinations. All accepted: every event is done. Any failure: every event is retried (or
   * dropped after `maxAttempts`), so the receiver may get some again (at least once).
   */
  private async attemptBatch(entries: OutboxEntry[]): Promise<void> {
    let why: string | undefined;
    const mine = entries.filter((e) => (e.event.to ?? [SWITCHBOARD_DESTINATION]).includes(SWITCHBOARD_DESTINATION)).map((e) => e.event);
    const req = mine.length > 0 ? this.batchRequestFor(mine) : undefined;
    if (req) why = await this.post(req);
    for (const { event } of entries) {
      if (why !== undefined) break;
      for (const to of event.to ?? []) {
        if (to === SWITCHBOARD_DESTINATION) continue;
        const sinkReq = this.requestFor(event, to);
        if (sinkReq) why = await this.post(sinkReq);
        if (why !== undefined) break;
      }
    }
    if (why === undefined) {
      this.delivered += entries.length;
      await Promise.all(entries.map((e) => this.outbox.done(e.event.id)));
      return;
    }
    this.failed++;
    const reason = why;
    await Promise.all(entries.map((e) => this.failedAttempt(e, reason)));
  }

  /** The request delivering `events` to `webhooks.url` in one body (undefined: not configured any more). */
  private batchRequestFor(events: WebhookEvent[]): WebhookRequest | undefined {
    if (!this.config.url || !this.config.secret) return undefined;
    const body = JSON.stringify({ events: events.map(({ to: _to, traceparent: _trace, ...shown }) => shown) });
    const timestamp = Math.floor(Date.now() / 1000);
    return {
      url: this.config.url,
      body,
      headers: {
        'content-type': 'application/json',
        'x-switchboard-event': 'batch',
        'x-switchboard-batch-size': String(events.length),
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: `v1=${signWebhook(this.config.secret, timestamp, body)}`,
      },
    };
  }

  /** POSTs one request; undefined when the receiver answered 2xx, else why not. */
  private post(req: WebhookRequest): Promise<string | undefined> {
    return this.poster.post(req, this.config.timeoutMs, traceHeaders(this.tracing));
  }
}
