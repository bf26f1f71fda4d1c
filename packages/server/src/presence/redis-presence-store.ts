import { groupByUser, type PresenceMember, type PresenceStore, type PresenceUser } from './presence-store.ts';
import { ADD, GET, REMOVE, SETTLE, USER_DOWN, USER_UP } from './redis-presence-scripts.ts';
import { RedisKeys } from '../redis/keys.ts';
import { ExpiryRefresher } from '../redis/refresher.ts';
import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';
import type { Logger } from '../logger.ts';
import { unavailableReporter } from '../unavailable.ts';

interface Scripts {
  sbPresenceAdd(zset: string, hash: string, client: string, json: string, expiry: number, now: number, ttl: number, prefix: string): Promise<number>;
  sbPresenceRemove(zset: string, hash: string, client: string, now: number): Promise<number>;
  sbPresenceGet(zset: string, hash: string, now: number): Promise<string[]>;
  sbUserUp(conns: string, flag: string, client: string, expiry: number, now: number, keyTtl: number): Promise<number>;
  sbUserDown(conns: string, client: string, now: number): Promise<number>;
  sbSettle(conns: string, flag: string, now: number): Promise<number>;
}

export interface RedisPresenceStoreOptions {
  connection: RedisConnection;
  keys?: RedisKeys;
  /** How long an entry outlives its node's last refresh (ms). Default 30 000. */
  entryTtlMs?: number;
  /** How often this node refreshes its entries and sweeps for users of dead nodes (ms). Default 10 000. */
  refreshMs?: number;
  log?: Logger;
  /** Called with each user the sweep settled offline (the node announces it). */
  onUserExpired?: (user: string) => void;
}

/**
 * A member entry as another node wrote it; undefined for anything malformed (a compromised
 * or buggy node must not break every presence read of the channel).
 */
function memberOf(json: string): { user: string; info?: unknown } | undefined {
  try {
    const m = JSON.parse(json) as { user?: unknown; info?: unknown };
    if (typeof m !== 'object' || m === null || typeof m.user !== 'string') return undefined;
    return m.info !== undefined ? { user: m.user, info: m.info } : { user: m.user };
  } catch {
    return undefined;
  }
}

/**
 * Presence shared by every node. Each entry (a connection in a channel, a connection of a
 * user) is a sorted-set member scored with its expiry; the node that owns the connection
 * refreshes it every `refreshMs`, so a dead node's entries vanish after `entryTtlMs`.
 * Users whose last connections vanished that way are found by `sweep` (every node runs it)
 * and settled like any other: `onUserExpired` announces them offline, once cluster-wide.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly redis: RedisClient & Scripts;
  private readonly keys: RedisKeys;
  private readonly refresher: ExpiryRefresher;
  /** user → this node's connections of that user. */
  private readonly localUsers = new Map<string, Set<string>>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly log: Logger | undefined;
  private readonly onUserExpired: ((user: string) => void) | undefined;

  constructor(o: RedisPresenceStoreOptions) {
    this.redis = o.connection.redis as RedisClient & Scripts;
    this.keys = o.keys ?? new RedisKeys();
    this.log = o.log;
    this.onUserExpired = o.onUserExpired;
    const refreshMs = o.refreshMs ?? 10_000;
    this.refresher = new ExpiryRefresher({ redis: this.redis, ttlMs: o.entryTtlMs ?? 30_000, intervalMs: refreshMs, ...(o.log ? { log: o.log } : {}) });
    this.redis.defineCommand('sbPresenceGet', { numberOfKeys: 2, lua: GET });
    this.redis.defineCommand('sbPresenceAdd', { numberOfKeys: 2, lua: ADD });
    this.redis.defineCommand('sbPresenceRemove', { numberOfKeys: 2, lua: REMOVE });
    this.redis.defineCommand('sbUserUp', { numberOfKeys: 2, lua: USER_UP });
    this.redis.defineCommand('sbUserDown', { numberOfKeys: 1, lua: USER_DOWN });
    this.redis.defineCommand('sbSettle', { numberOfKeys: 2, lua: SETTLE });
    this.sweeper = setInterval(() => void this.sweep().catch((err) => this.log && unavailableReporter(this.log).report(err, 'presence sweep')), refreshMs);
    this.sweeper.unref();
  }

  async add(channel: string, member: PresenceMember): Promise<boolean> {
    const zset = this.keys.presence(channel);
    const user = JSON.stringify(member.user);
    const value = JSON.stringify({ user: member.user, ...(member.info !== undefined ? { info: member.info } : {}) });
    const first = await this.redis.sbPresenceAdd(zset, this.keys.presenceMembers(channel), member.client, value,
      this.refresher.expiry(), Date.now(), this.refresher.ttlMs * 2, `{"user":${user}`);
    // The members' hash expires with the sorted set, so it must be refreshed with it.
    this.refresher.track(zset, member.client, [this.keys.presenceMembers(channel)]);
    return first === 1;
  }

  async remove(channel: string, client: string): Promise<boolean> {
    const zset = this.keys.presence(channel);
    this.refresher.untrack(zset, client);
    return (await this.redis.sbPresenceRemove(zset, this.keys.presenceMembers(channel), client, Date.now())) === 1;
  }

  async get(channel: string): Promise<Record<string, PresenceUser>> {
    const values = await this.redis.sbPresenceGet(this.keys.presence(channel), this.keys.presenceMembers(channel), Date.now());
    return groupByUser(values.flatMap((v) => memberOf(v) ?? []));
  }

  async userUp(user: string, client: string): Promise<boolean> {
    const conns = this.keys.userConnections(user);
    const expiry = this.refresher.expiry();
    const first = await this.redis.sbUserUp(conns, this.keys.userAnnounced(user), client, expiry, Date.now(), this.refresher.ttlMs * 2);
    await this.redis.zadd(this.keys.presenceUsers(), 'GT', expiry, user);
    let local = this.localUsers.get(user);
    if (!local) this.localUsers.set(user, (local = new Set()));
    local.add(client);
    this.refresher.track(conns, client);
    this.refresher.track(this.keys.presenceUsers(), user);
    return first === 1;
  }

  async userDown(user: string, client: string): Promise<number> {
    const conns = this.keys.userConnections(user);
    this.refresher.untrack(conns, client);
    const local = this.localUsers.get(user);
    if (local?.delete(client) && local.size === 0) {
      this.localUsers.delete(user);
      this.refresher.untrack(this.keys.presenceUsers(), user);
    }
    return Number(await this.redis.sbUserDown(conns, client, Date.now()));
  }

  async settleOffline(user: string): Promise<boolean> {
    return (await this.redis.sbSettle(this.keys.userConnections(user), this.keys.userAnnounced(user), Date.now())) === 1;
  }

  async online(users: readonly string[]): Promise<string[]> {
    // One key per user, each in its own slot under Redis Cluster: one command each, sent together.
    const found = await Promise.all(users.map((u) => this.redis.exists(this.keys.userAnnounced(u))));
    return users.filter((_, i) => found[i] === 1);
  }

  /**
   * Settles users whose every connection expired (their nodes stopped refreshing): true
   * from `settleOffline` means this node won the race to announce them offline.
   */
  async sweep(): Promise<void> {
    const index = this.keys.presenceUsers();
    const stale = await this.redis.zrangebyscore(index, '-inf', Date.now(), 'LIMIT', 0, 500);
    for (const user of stale) {
      if (this.localUsers.has(user)) continue;
      if (await this.settleOffline(user)) this.onUserExpired?.(user);
      if ((await this.redis.zcard(this.keys.userConnections(user))) === 0) await this.redis.zrem(index, user);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.refresher.stop();
    await closeRedis(this.redis);
  }
}
