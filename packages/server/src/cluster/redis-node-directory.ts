import type { NodeDirectory, NodeInfo } from './node-directory.ts';
import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';
import { RedisKeys } from '../redis/keys.ts';
import type { Logger } from '../logger.ts';
import { RedisChannelIndex } from './redis-channel-index.ts';
import { unavailableReporter } from '../unavailable.ts';

/**
 * Nodes announce themselves in one Redis hash (`<prefix>nodes`: node id → JSON of its
 * `NodeInfo` and expiry) every `intervalMs`; readers skip and prune entries older than
 * `ttlMs`, so a killed node disappears from `info` within `ttlMs`. Each node's channels live
 * beside it, in its own expiring hash (`RedisChannelIndex`), read only for live nodes.
 */
export class RedisNodeDirectory implements NodeDirectory {
  private readonly redis: RedisClient;
  private readonly key: string;
  private readonly self: () => NodeInfo;
  private readonly ttlMs: number;
  private readonly timer: NodeJS.Timeout;
  private readonly log: Logger | undefined;
  private readonly keys: RedisKeys;
  private readonly local: () => Iterable<[string, number]>;
  private readonly index: RedisChannelIndex;

  constructor(o: {
    connection: RedisConnection; self: () => NodeInfo; keys?: RedisKeys; intervalMs?: number; ttlMs?: number; log?: Logger;
    /** This node's channels and local subscriber counts (the hub). */
    channels?: () => Iterable<[string, number]>;
    /** Changes whenever `channels()` would answer differently (see `RedisChannelIndexOptions.version`). */
    channelsVersion?: () => number;
    /** How often this node's channel changes are written (ms, default 1000). */
    channelsIntervalMs?: number;
  }) {
    this.redis = o.connection.redis;
    this.keys = o.keys ?? new RedisKeys();
    this.key = this.keys.nodes();
    this.self = o.self;
    this.log = o.log;
    const interval = o.intervalMs ?? 5000;
    this.ttlMs = o.ttlMs ?? interval * 3;
    this.local = o.channels ?? (() => []);
    this.index = new RedisChannelIndex({
      redis: this.redis, key: this.keys.nodeChannels(this.self().id), local: this.local, ttlMs: this.ttlMs,
      ...(o.channelsVersion ? { version: o.channelsVersion } : {}),
      ...(o.channelsIntervalMs !== undefined ? { intervalMs: o.channelsIntervalMs } : {}), ...(o.log ? { log: o.log } : {}),
    });
    this.timer = setInterval(() => void this.announce().catch((err) => this.log && unavailableReporter(this.log).report(err, 'node directory announce')), interval);
    this.timer.unref();
    void this.announce().catch(() => {});
  }

  private async announce(): Promise<NodeInfo> {
    const me = this.self();
    await this.redis.hset(this.key, me.id, JSON.stringify({ ...me, expiresAt: Date.now() + this.ttlMs }));
    return me;
  }

  async nodes(): Promise<NodeInfo[]> {
    const me = await this.announce();
    const all = await this.redis.hgetall(this.key);
    const now = Date.now();
    const out: NodeInfo[] = [];
    const dead: string[] = [];
    for (const [id, json] of Object.entries(all)) {
      const { expiresAt, ...info } = JSON.parse(json) as NodeInfo & { expiresAt: number };
      if (expiresAt <= now) dead.push(id);
      else out.push(id === me.id ? me : info);
    }
    if (dead.length) await this.redis.hdel(this.key, ...dead);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async channels(): Promise<Map<string, number>> {
    const me = this.self().id;
    const others = (await this.nodes()).filter((n) => n.id !== me).map((n) => this.keys.nodeChannels(n.id));
    const out = await this.index.read(others);
    for (const [channel, n] of this.local()) out.set(channel, (out.get(channel) ?? 0) + n);
    return out;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.index.close();
    await this.redis.hdel(this.key, this.self().id).catch(() => {});
    await closeRedis(this.redis);
  }
}
