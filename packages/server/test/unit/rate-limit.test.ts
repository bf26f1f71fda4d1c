import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/rate-limit.ts';

/** Feeds `n` takes, `everyMs` apart, to a bucket of 200/s (burst 400); answers the first take whose debt passed 200. */
function flood(everyMs: number, n: number): number | undefined {
  const b = new TokenBucket(200, 400, 0);
  for (let i = 0; i < n; i++) if (!b.take(i * everyMs) && b.debt > 200) return i;
  return undefined;
}

describe('unit: TokenBucket debt (when a command flood is closed 3013)', () => {
  it('grows while the caller goes on faster than the rate, however slowly its requests are processed', () => {
    // 500 a second (2.5x the rate): a success now and then (a refilled token) forgives nothing
    expect(flood(2, 10_000)).toBeDefined();
    // all at once
    expect(flood(0, 1000)).toBe(400 + 200);
  });

  it('stays small for a caller only a little over the rate, and is paid back when it slows down', () => {
    expect(flood(1000 / 300, 20_000)).toBeUndefined(); // 1.5x the rate: refused now and then, never closed
    const b = new TokenBucket(200, 400, 0);
    for (let i = 0; i < 550; i++) b.take(0);
    expect(b.debt).toBe(150);
    expect(b.take(1000)).toBe(true); // a second later: refilled, and the debt paid back
    expect(b.debt).toBe(0);
  });
});
