/**
 * An HDR-style latency histogram: log-linear buckets (128 linear sub-buckets per power of
 * two, so every recorded value keeps 3 significant bits of precision, under 1% error),
 * fixed memory, O(1) record, mergeable across processes by adding counts.
 * Values are integers (the harness records microseconds).
 */
export class Histogram {
  static readonly SUB_BITS = 7;
  static readonly SUB = 1 << Histogram.SUB_BITS;
  /** Values up to 2^31 µs (35 minutes): more than any run. */
  static readonly BUCKETS = Histogram.SUB + (31 - Histogram.SUB_BITS) * Histogram.SUB;

  counts: Float64Array;
  total = 0;
  min = Infinity;
  max = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Float64Array(Histogram.BUCKETS);
    if (counts) this.add(counts);
  }

  static indexOf(v: number): number {
    if (v < Histogram.SUB) return v < 0 ? 0 : v | 0;
    const shift = 31 - Math.clz32(v) - Histogram.SUB_BITS; // >= 0
    const idx = Histogram.SUB + shift * Histogram.SUB + ((v >>> shift) - Histogram.SUB);
    return idx < Histogram.BUCKETS ? idx : Histogram.BUCKETS - 1;
  }

  /** The highest value that maps to bucket `i` (what percentiles report). */
  static valueOf(i: number): number {
    if (i < Histogram.SUB) return i;
    const shift = Math.floor((i - Histogram.SUB) / Histogram.SUB);
    const sub = (i - Histogram.SUB) % Histogram.SUB;
    return (Histogram.SUB + sub) * 2 ** shift + 2 ** shift - 1;
  }

  record(v: number): void {
    const x = v > 0x7fffffff ? 0x7fffffff : Math.round(v);
    this.counts[Histogram.indexOf(x)]++;
    this.total++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Adds another histogram's bucket counts (from `toJSON().counts`). */
  add(counts: ArrayLike<number>, min = Infinity, max = 0): void {
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (c) {
        this.counts[i] += c;
        this.total += c;
      }
    }
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
  }

  merge(other: Histogram): void {
    this.add(other.counts, other.min, other.max);
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.min = Infinity;
    this.max = 0;
  }

  /** The value at percentile `p` (0-100); 0 when empty. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(Histogram.valueOf(i), this.max);
    }
    return this.max;
  }

  /** p50/p95/p99/max in milliseconds. */
  summaryMs(): LatencySummary {
    const ms = (us: number) => Math.round(us / 10) / 100;
    return { count: this.total, p50: ms(this.percentile(50)), p95: ms(this.percentile(95)), p99: ms(this.percentile(99)), max: ms(this.total ? this.max : 0) };
  }

  /** Sparse form for IPC: [index, count] pairs. */
  toJSON(): SerializedHistogram {
    const pairs: number[] = [];
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i]) pairs.push(i, this.counts[i]!);
    return { pairs, min: this.min === Infinity ? null : this.min, max: this.max };
  }

  static fromJSON(s: SerializedHistogram): Histogram {
    const h = new Histogram();
    h.addSerialized(s);
    return h;
  }

  addSerialized(s: SerializedHistogram): void {
    for (let i = 0; i < s.pairs.length; i += 2) {
      this.counts[s.pairs[i]!] += s.pairs[i + 1]!;
      this.total += s.pairs[i + 1]!;
    }
    if (s.min !== null && s.min < this.min) this.min = s.min;
    if (s.max > this.max) this.max = s.max;
  }
}

/** Latency percentiles in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface SerializedHistogram {
  pairs: number[];
  min: number | null;
  max: number;
}

/** Microseconds on the system-wide monotonic clock (CLOCK_MONOTONIC): comparable across processes of one machine. */
export function nowMicros(): number {
  const t = process.hrtime();
  return t[0] * 1e6 + Math.floor(t[1] / 1e3);
}
