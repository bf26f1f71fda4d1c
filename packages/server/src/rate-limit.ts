/**
 * A token bucket: `rate` tokens a second, holding at most `burst`. `take()` answers whether
 * a token was available; `debt` tells how far a caller has gone past empty (for escalation):
 * one per refused take, paid back at `rate` a second. So it grows only while the caller goes
 * on faster than the rate, whatever the speed at which its requests are processed (a slow
 * loop over a flood must not forgive it).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly rate: number;
  private readonly burst: number;
  debt = 0;

  constructor(rate: number, burst: number, now = Date.now()) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  take(now = Date.now()): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      const refill = (elapsed * this.rate) / 1000;
      this.tokens = Math.min(this.burst, this.tokens + refill);
      if (this.debt > 0) this.debt = Math.max(0, this.debt - refill);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.debt += 1;
    return false;
  }
}

/** Token buckets by key (such as a client IP), forgetting idle keys. */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly rate: number;
  private readonly burst: number;
  private lastSweep = Date.now();

  constructor(rate: number, burst: number) {
    this.rate = rate;
    this.burst = burst;
  }

  take(key: string, now = Date.now()): boolean {
    if (now - this.lastSweep > 60_000) {
      this.buckets.clear();
      this.lastSweep = now;
    }
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new TokenBucket(this.rate, this.burst, now)));
    return b.take(now);
  }
}
