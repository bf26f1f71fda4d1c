/** Reconnect delays: full-jitter exponential backoff. */
export interface BackoffOptions {
  /** Cap of the first delay (ms). */
  minDelayMs: number;
  /** Largest cap (ms). */
  maxDelayMs: number;
  /** Growth of the cap per failed attempt. */
  factor: number;
}

/**
 * Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * the n-th delay is uniformly random in `[0, min(maxDelayMs, minDelayMs * factor^n)]`, so a
 * thousand clients dropped at once do not come back at once.
 */
export class Backoff {
  private readonly o: BackoffOptions;
  private readonly random: () => number;
  /** Consecutive failures since the last `reset()`. */
  attempts = 0;

  constructor(o: BackoffOptions, random: () => number = Math.random) {
    this.o = o;
    this.random = random;
  }

  /** The next delay (ms); counts one attempt. */
  next(): number {
    const cap = Math.min(this.o.maxDelayMs, this.o.minDelayMs * this.o.factor ** this.attempts);
    this.attempts++;
    return Math.floor(this.random() * cap);
  }

  reset(): void {
    this.attempts = 0;
  }
}
