import type { Registry } from 'prom-client';

/**
 * A label-less Prometheus histogram for the hot path: `observe` is a bucket search and three
 * number updates (prom-client's `Histogram.observe` hashes labels and allocates, ~0.8 µs).
 * It registers itself in a prom-client registry as a custom metric and is rendered like a
 * prom-client histogram.
 */
export class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: readonly number[];
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(o: { name: string; help: string; buckets: number[]; registry: Registry }) {
    this.name = o.name;
    this.help = o.help;
    this.bounds = [...o.buckets].sort((a, b) => a - b);
    this.counts = new Float64Array(this.bounds.length + 1);
    o.registry.registerMetric(this as never);
  }

  /** Records one value (seconds). */
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** prom-client's metric shape: cumulative `_bucket` lines, then `_sum` and `_count`. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    let acc = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      acc += this.counts[i]!;
      values.push({ labels: { le: i < this.bounds.length ? this.bounds[i]! : '+Inf' }, value: acc, metricName: `${this.name}_bucket` });
    }
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Bucket upper bounds (seconds) and the count of each bucket (not cumulative; the last is +Inf). */
  snapshot(): { bounds: readonly number[]; counts: number[] } {
    return { bounds: this.bounds, counts: Array.from(this.counts) };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
