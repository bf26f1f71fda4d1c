import type { AdminStore, NodeHeader, StatsSample } from './admin-store.ts';

/** What the sampler reads from its node (the composition root wires it to the node and metrics). */
export interface SamplerSource {
  /** Current gauges. */
  gauges(): { connections: number; users: number; channels: number; subscriptions: number };
  /** Monotonic totals since start. */
  counters(): { publications: number; deliveries: number; bytesIn: number; bytesOut: number; errors: number };
  /** Error replies sent since start, by code (optional: without it a sample has no breakdown). */
  errorCodes?(): ReadonlyMap<string, number>;
  /** Publish-to-delivery histogram: bucket bounds (seconds) and per-bucket counts (the last is +Inf). */
  latency(): { bounds: readonly number[]; counts: number[] };
  /** `ok`, or why the node's stores or broker do not answer. */
  status(): Promise<string>;
}

export interface StatsSamplerOptions {
  store: AdminStore;
  source: SamplerSource;
  /** This node as the UI shows it (`status` and `seenAt` are filled in per sample). */
  header: Omit<NodeHeader, 'status' | 'seenAt'>;
  /** Sampling interval (ms); default 2000. */
  intervalMs?: number;
  /** Samples kept per node; default 300 (10 minutes at 2 s). */
  keep?: number;
  /** Reports failures (rate-limited by the caller). */
  onError?(err: unknown): void;
}

/**
 * The quantile `q` of a bucketed histogram (counts per bucket, not cumulative), interpolated
 * linearly inside its bucket as Prometheus's `histogram_quantile` does; in ms. Null when
 * nothing was observed. A quantile in the +Inf bucket is the highest finite bound.
 */
export function bucketQuantile(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (acc + c >= rank && c > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1]! * 1000;
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      return (lo + (bounds[i]! - lo) * ((rank - acc) / c)) * 1000;
    }
    acc += c;
  }
  return bounds[bounds.length - 1]! * 1000;
}

/**
 * Samples a node every `intervalMs` into the admin store: gauges as read, totals as rates
 * per second over the interval, the delivery p99 of the interval, memory and CPU. Sample
 * times are aligned to the interval so the cluster's nodes line up in one chart.
 */
export class StatsSampler {
  readonly intervalMs: number;
  readonly keep: number;
  private readonly o: StatsSamplerOptions;
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; counters: ReturnType<SamplerSource['counters']>; latency: number[]; cpu: NodeJS.CpuUsage; codes: Map<string, number> };
  private running: Promise<void> = Promise.resolve();
  private lastT = 0;

  constructor(o: StatsSamplerOptions) {
    this.o = o;
    this.intervalMs = o.intervalMs ?? 2000;
    this.keep = o.keep ?? 300;
    this.last = { at: Date.now(), counters: o.source.counters(), latency: o.source.latency().counts, cpu: process.cpuUsage(), codes: new Map(o.source.errorCodes?.()) };
  }

  /** Takes a first sample now, then one per interval. */
  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops sampling and removes this node from the store (its page entry goes at once). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.o.store.forget(this.o.header.id).catch(() => {});
  }

  private tick(): void {
    this.running = this.running.then(async () => void (await this.sampleAndReport())).catch((err) => this.o.onError?.(err));
  }

  /** Takes one sample and reports it; exposed for tests. */
  async sampleAndReport(): Promise<StatsSample> {
    const sample = this.sample(Date.now());
    const status = await this.o.source.status();
    const header: NodeHeader = { ...this.o.header, status, seenAt: Date.now() };
    await this.o.store.report(header, sample, { keep: this.keep, ttlMs: Math.max(3 * this.intervalMs, 5000) });
    return sample;
  }

  private sample(now: number): StatsSample {
    const s = this.o.source;
    const counters = s.counters();
    const latency = s.latency();
    const cpu = process.cpuUsage();
    const prev = this.last;
    const secs = Math.max(now - prev.at, 1) / 1000;
    const rate = (k: keyof typeof counters) => Math.max(0, counters[k] - prev.counters[k]) / secs;
    const cpuMicros = cpu.user - prev.cpu.user + cpu.system - prev.cpu.system;
    const delta = latency.counts.map((c, i) => Math.max(0, c - (prev.latency[i] ?? 0)));
    const codes = new Map(s.errorCodes?.());
    const round0 = (v: number) => Math.round(v * 100) / 100;
    // Per code, the rate over the interval; codes with none left out (a closed set: the protocol's).
    const errorsByCode = Object.create(null) as Record<string, number>;
    for (const [code, n] of codes) {
      const r = Math.max(0, n - (prev.codes.get(code) ?? 0)) / secs;
      if (r > 0) errorsByCode[code] = round0(r);
    }
    this.last = { at: now, counters, latency: latency.counts, cpu, codes };
    const mem = process.memoryUsage();
    const round = (v: number) => Math.round(v * 100) / 100;
    const p99 = bucketQuantile(latency.bounds, delta, 0.99);
    // Aligned to the interval; a timer that fires early or late never repeats or skips back.
    this.lastT = Math.max(Math.round(now / this.intervalMs) * this.intervalMs, this.lastT + this.intervalMs);
    return {
      t: this.lastT,
      ...s.gauges(),
      publications: round(rate('publications')),
      deliveries: round(rate('deliveries')),
      bytesIn: round(rate('bytesIn')),
      bytesOut: round(rate('bytesOut')),
      errors: round(rate('errors')),
      ...(Object.keys(errorsByCode).length > 0 ? { errorsByCode } : {}),
      p99: p99 === null ? null : round(p99),
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      cpu: round(cpuMicros / 10 / (secs * 1000)),
    };
  }
}
