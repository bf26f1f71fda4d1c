import type { RedisClient } from '../redis/connect.ts';
import type { Logger } from '../logger.ts';
import { unavailableReporter } from '../unavailable.ts';

/** Fields per HSET command on a full rewrite (keeps each command small). */
const CHUNK = 1000;

export interface RedisChannelIndexOptions {
  redis: RedisClient;
  /** This node's hash (`RedisKeys.nodeChannels(id)`). */
  key: string;
  /** This node's channels with their local subscriber counts, read at each flush. */
  local: () => Iterable<[string, number]>;
  /**
   * Changes whenever `local()` would answer differently. With it, a flush with no change since
   * the last one only pushes the hash's expiry: an idle node builds no snapshot (a Map of every
   * channel each second, which at thousands of channels made an idle gateway's heap climb).
   */
  version?: () => number;
  /** Flush period (ms). Default 1000: other nodes see a change within about a second. */
  intervalMs?: number;
  /** Lifetime of the hash without a flush (ms). Default 15 000, as the node directory. */
  ttlMs?: number;
  log?: Logger;
}

/**
 * Keeps one node's active channels in Redis: a hash channel → local subscriber count under a
 * per-node key that expires unless refreshed, so a dead node's channels disappear on their
 * own. Every `intervalMs` the node diffs its hub against what it last wrote and sends only
 * the changes (HSET/HDEL) and a PEXPIRE, so the cost follows subscription churn, not the
 * number of channels. When the hash turns out to be gone (Redis restarted, or an outage
 * outlasted the ttl) or a flush failed, the next flush rewrites it whole.
 */
export class RedisChannelIndex {
  private readonly redis: RedisClient;
  readonly key: string;
  private readonly local: () => Iterable<[string, number]>;
  private readonly version: (() => number) | undefined;
  /** `version()` when `written` was read from `local()`. */
  private writtenVersion = -1;
  private readonly ttlMs: number;
  private readonly log: Logger | undefined;
  /** What the hash holds as far as this node knows; undefined: unknown, rewrite it whole. */
  private written: Map<string, number> | undefined = new Map();
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(o: RedisChannelIndexOptions) {
    this.redis = o.redis;
    this.key = o.key;
    this.local = o.local;
    this.version = o.version;
    this.ttlMs = o.ttlMs ?? 15_000;
    this.log = o.log;
    this.timer = setInterval(() => void this.flush(), o.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Writes what changed since the last flush (one at a time; a call during one waits for it). */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const p = this.write().catch((err) => {
      this.written = undefined;
      if (this.log) unavailableReporter(this.log).report(err, 'channel index flush (rewritten next interval)');
    });
    this.flushing = p.finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.redis.status !== 'ready') {
      this.written = undefined;
      return;
    }
    const before = this.written;
    const version = this.version?.() ?? -1;
    if (before && version !== -1 && version === this.writtenVersion) {
      // Nothing changed: keep the hash alive; 0 means Redis lost it, so rewrite it whole.
      if ((await this.redis.pexpire(this.key, this.ttlMs)) === 0 && before.size > 0) {
        this.written = undefined;
        return this.write();
      }
      return;
    }
    const now = new Map(this.local());
    if (!before) return this.rewrite(now, version);
    const set: Array<string | number> = [];
    for (const [channel, n] of now) if (before.get(channel) !== n) set.push(channel, n);
    const gone: string[] = [];
    for (const channel of before.keys()) if (!now.has(channel)) gone.push(channel);
    // PEXPIRE first: 0 means the hash was gone before this flush (Redis lost it).
    const p = this.redis.pipeline().pexpire(this.key, this.ttlMs);
    for (let i = 0; i < set.length; i += CHUNK * 2) p.hset(this.key, ...set.slice(i, i + CHUNK * 2));
    for (let i = 0; i < gone.length; i += CHUNK) p.hdel(this.key, ...gone.slice(i, i + CHUNK));
    if (set.length) p.pexpire(this.key, this.ttlMs);
    const results = (await p.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    if (results[0]?.[1] === 0 && before.size > 0) return this.rewrite(now, version);
    this.written = now;
    this.writtenVersion = version;
  }

  /** Replaces the hash with `now`, atomically. */
  private async rewrite(now: Map<string, number>, version: number): Promise<void> {
    const m = this.redis.multi().del(this.key);
    const flat: Array<string | number> = [];
    for (const [channel, n] of now) flat.push(channel, n);
    for (let i = 0; i < flat.length; i += CHUNK * 2) m.hset(this.key, ...flat.slice(i, i + CHUNK * 2));
    m.pexpire(this.key, this.ttlMs);
    const results = (await m.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    this.written = now;
    this.writtenVersion = version;
  }

  /**
   * Channel → subscriber count of the given nodes' hashes, summed. The HGETALLs go out
   * together (auto-pipelined), each to its own shard on a Redis Cluster.
   */
  async read(keys: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const hash of await Promise.all(keys.map((k) => this.redis.hgetall(k)))) {
      for (const [channel, n] of Object.entries(hash)) out.set(channel, (out.get(channel) ?? 0) + Number(n));
    }
    return out;
  }

  /** Stops flushing and removes this node's hash (a graceful stop). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    await this.redis.del(this.key).catch(() => {});
  }
}
