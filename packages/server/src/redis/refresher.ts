import type { RedisClient } from './connect.ts';
import type { Logger } from '../logger.ts';

/**
 * Keeps this node's entries alive in Redis sorted sets whose scores are expiry times.
 * Every node refreshes only what it owns (`track`), every `intervalMs`, with `ZADD XX GT`:
 * an entry another node removed is never recreated. When a node dies its entries stop being
 * refreshed and expire after `ttlMs`; readers skip and prune expired entries.
 */
export class ExpiryRefresher {
  private readonly redis: RedisClient;
  readonly ttlMs: number;
  private readonly intervalMs: number;
  private readonly log: Logger | undefined;
  /** key → members this node owns there. */
  private readonly owned = new Map<string, Set<string>>();
  /** key → keys that live as long as it (details of its members, an ordering). */
  private readonly companions = new Map<string, readonly string[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(o: { redis: RedisClient; ttlMs: number; intervalMs: number; log?: Logger }) {
    this.redis = o.redis;
    this.ttlMs = o.ttlMs;
    this.intervalMs = o.intervalMs;
    this.log = o.log;
  }

  /** Expiry score for an entry written now. */
  expiry(): number {
    return Date.now() + this.ttlMs;
  }

  /**
   * Keeps `member` of the sorted set `key` alive; `companions` (keys that belong with it:
   * details of the members, their order) get the same key expiry on every refresh.
   */
  track(key: string, member: string, companions?: readonly string[]): void {
    if (companions !== undefined) this.companions.set(key, companions);
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
    if (set.size === 0) {
      this.owned.delete(key);
      this.companions.delete(key);
    }
  }

  /**
   * Pushes every owned entry's expiry forward: one ZADD and one PEXPIRE per key, sent
   * together (auto-pipelined). Not one pipeline object: on a Redis Cluster the keys live in
   * different slots, and the client routes each command to its own shard.
   */
  async refresh(): Promise<void> {
    if (this.owned.size === 0 || this.redis.status !== 'ready') return;
    const score = this.expiry();
    const sent: Array<Promise<unknown>> = [];
    for (const [key, members] of this.owned) {
      const args: Array<string | number> = [];
      for (const m of members) args.push(score, m);
      sent.push(this.redis.zadd(key, 'XX', 'GT', ...args), this.redis.pexpire(key, this.ttlMs * 2));
      for (const companion of this.companions.get(key) ?? []) sent.push(this.redis.pexpire(companion, this.ttlMs * 2));
    }
    try {
      await Promise.all(sent);
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'redis: refreshing presence entries failed; retrying next interval');
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.owned.clear();
    this.companions.clear();
  }
}
