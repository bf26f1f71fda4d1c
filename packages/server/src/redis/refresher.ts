import { Cluster } from 'ioredis';
import type { RedisClient } from './connect.ts';
import type { Logger } from '../logger.ts';
import { unavailableReporter } from '../unavailable.ts';

/** Commands in flight at once during a refresh (see `refresh`). */
const REFRESH_CHUNK = 256;
/** Keys and members per `sbRefresh` call on one Redis server (see `refresh`). */
const SCRIPT_CHUNK = 512;

/**
 * Refreshes many keys in one call (one Redis server, not a Cluster: its keys live in other
 * slots). KEYS: per group, the sorted set and then its companions. ARGV: score, key ttl (ms),
 * then per group its companion count, its member count and the members.
 */
const REFRESH = `
local score, ttl, a, k = ARGV[1], ARGV[2], 3, 1
while k <= #KEYS do
  local nc, nm = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  local i = 0
  while i < nm do
    local args = {}
    for j = i, math.min(i + 200, nm) - 1 do
      args[#args + 1] = score
      args[#args + 1] = ARGV[a + j]
    end
    redis.call('ZADD', KEYS[k], 'XX', 'GT', unpack(args))
    i = i + 200
  end
  a = a + nm
  redis.call('PEXPIRE', KEYS[k], ttl)
  for c = 1, nc do redis.call('PEXPIRE', KEYS[k + c], ttl) end
  k = k + 1 + nc
end
return 1
`;

type ScriptedClient = RedisClient & { sbRefresh(numKeys: number, ...args: Array<string | number>): Promise<number> };

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
  private refreshing = false;

  constructor(o: { redis: RedisClient; ttlMs: number; intervalMs: number; log?: Logger }) {
    this.redis = o.redis;
    this.ttlMs = o.ttlMs;
    this.intervalMs = o.intervalMs;
    this.log = o.log;
    // Defined before any command flows: an auto-pipeline batch opened earlier would lack it.
    if (!(this.redis instanceof Cluster) && typeof (this.redis as unknown as Partial<ScriptedClient>).sbRefresh !== 'function') this.redis.defineCommand('sbRefresh', { lua: REFRESH });
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
   * Pushes every owned entry's expiry forward: one ZADD and one PEXPIRE per key (auto-pipelined;
   * not one pipeline object: on a Redis Cluster the keys live in different slots, and the
   * client routes each command to its own shard). Sent in chunks of `REFRESH_CHUNK` keys, each
   * awaited before the next: a node holding thousands of users would otherwise keep thousands
   * of commands and their promises alive at once, long enough for V8 to promote them to the
   * old generation, and an idle gateway's heap (and RSS) would climb by tens of MB a minute
   * until a full GC. Chunked, the garbage dies young. A refresh still running when the next
   * interval comes is not started twice.
   */
  async refresh(): Promise<void> {
    if (this.refreshing || this.owned.size === 0 || this.redis.status !== 'ready') return;
    this.refreshing = true;
    if (!(this.redis instanceof Cluster)) return this.refreshScripted();
    const score = this.expiry();
    let failed: Error | undefined;
    let sent: Array<Promise<unknown>> = [];
    const flush = async () => {
      const results = await Promise.allSettled(sent);
      sent = [];
      for (const r of results) if (r.status === 'rejected') failed ??= r.reason as Error;
    };
    try {
      for (const [key, members] of this.owned) {
        const args: Array<string | number> = [];
        for (const m of members) args.push(score, m);
        sent.push(this.redis.zadd(key, 'XX', 'GT', ...args), this.redis.pexpire(key, this.ttlMs * 2));
        for (const companion of this.companions.get(key) ?? []) sent.push(this.redis.pexpire(companion, this.ttlMs * 2));
        if (sent.length >= REFRESH_CHUNK) await flush();
      }
      await flush();
    } finally {
      this.refreshing = false;
    }
    if (failed && this.log) unavailableReporter(this.log).report(failed, 'presence refresh (retried next interval)');
  }

  /**
   * One Redis server: the same refresh as `refresh`, but hundreds of keys per `sbRefresh`
   * call instead of two or three commands per key. At 600 commands a second for 3,000 idle
   * users, the client's per-command objects were most of an idle gateway's allocation.
   */
  private async refreshScripted(): Promise<void> {
    const redis = this.redis as ScriptedClient;
    const score = this.expiry();
    const ttl = this.ttlMs * 2;
    let failed: Error | undefined;
    let keys: string[] = [];
    let args: Array<string | number> = [score, ttl];
    const send = async () => {
      if (keys.length === 0) return;
      await redis.sbRefresh(keys.length, ...keys, ...args).catch((err: Error) => (failed ??= err));
      keys = [];
      args = [score, ttl];
    };
    try {
      for (const [key, members] of this.owned) {
        const companions = this.companions.get(key) ?? [];
        keys.push(key, ...companions);
        args.push(companions.length, members.size, ...members);
        if (keys.length + args.length >= SCRIPT_CHUNK) await send();
      }
      await send();
    } finally {
      this.refreshing = false;
    }
    if (failed && this.log) unavailableReporter(this.log).report(failed, 'presence refresh (retried next interval)');
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.owned.clear();
    this.companions.clear();
  }
}
