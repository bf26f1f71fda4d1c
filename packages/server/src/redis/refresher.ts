import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

/**
 * Keeps this node's entries alive in Redis sorted sets whose scores are expiry times.
 * Every node refreshes only what it owns (`track`), every `intervalMs`, with `ZADD XX GT`:
 * an entry another node removed is never recreated. When a node dies its entries stop being
 * refreshed and expire after `ttlMs`; readers skip and prune expired entries.
 */
export class ExpiryRefresher {
  private readonly redis: Redis;
  readonly ttlMs: number;
  private readonly intervalMs: number;
  private readonly log: Logger | undefined;
  /** key → members this node owns there. */
  private readonly owned = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(o: { redis: Redis; ttlMs: number; intervalMs: number; log?: Logger }) {
    this.redis = o.redis;
    this.ttlMs = o.ttlMs;
    this.intervalMs = o.intervalMs;
    this.log = o.log;
  }

  /** Expiry score for an entry written now. */
  expiry(): number {
    return Date.now() + this.ttlMs;
  }

  track(key: string, member: string): void {
    let set = this.owned.get(key);
    if (!set) this.owned.set(key, (set = new Set()));
    set.add(member);
    if (!this.timer) {
      this.timer = setInterval(() => void this.refresh(), this.intervalMs);
      this.timer.unref();
    }
  }

  untrack(key: string, member: string): void {
    const set = this.owned.get(key);
    if (!set) return;
    set.delete(member);
    if (set.size === 0) this.owned.delete(key);
  }

  /** Pushes every owned entry's expiry forward (one pipelined ZADD per key). */
  async refresh(): Promise<void> {
    if (this.owned.size === 0 || this.redis.status !== 'ready') return;
    const score = this.expiry();
    const p = this.redis.pipeline();
    for (const [key, members] of this.owned) {
      const args: Array<string | number> = [];
      for (const m of members) args.push(score, m);
      p.zadd(key, 'XX', 'GT', ...args);
      p.pexpire(key, this.ttlMs * 2);
    }
    try {
      await p.exec();
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'redis: refreshing presence entries failed; retrying next interval');
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.owned.clear();
  }
}
