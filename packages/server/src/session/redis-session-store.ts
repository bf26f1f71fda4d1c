import { createHash } from 'node:crypto';
import type { Session, SessionStore } from './session-store.ts';
import { newSessionId } from './session-id.ts';
import { RedisKeys } from '../redis/keys.ts';
import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';

/** Extends a session's idle expiry only while it is live (a touch never resurrects one). */
const TOUCH = `
local x = redis.call('HGET', KEYS[1], 'x')
local now = tonumber(ARGV[1])
if not x or tonumber(x) <= now then return 0 end
redis.call('HSET', KEYS[1], 'l', now, 'x', now + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]))
return 1
`;

/**
 * How long Redis keeps a session key past its expiry (ms). The store's clock decides expiry
 * (`x`); Redis' own expiry only cleans up, a little later, so a node clock ahead of Redis'
 * (or a slow round trip) never loses a session that is still live by the store's clock.
 */
const CLEANUP_SLACK_MS = 60_000;

/**
 * Sessions in Redis, shared by every node: a client may resume its session on any node.
 * One hash per session (`u` user, `c` created, `l` last seen, `x` expires at) keyed by a
 * SHA-256 digest of the id. The store's clock decides expiry (`x`); Redis' own key expiry
 * removes it a minute later, so nothing needs sweeping.
 */
export class RedisSessionStore implements SessionStore {
  private readonly redis: RedisClient & { sbTouch(key: string, lastSeen: number, ttl: number, slack: number): Promise<number> };
  private readonly keys: RedisKeys;
  private readonly now: () => number;

  constructor(o: { connection: RedisConnection; keys?: RedisKeys; now?: () => number }) {
    this.redis = o.connection.redis as RedisSessionStore['redis'];
    this.keys = o.keys ?? new RedisKeys();
    this.now = o.now ?? Date.now;
    this.redis.defineCommand('sbTouch', { numberOfKeys: 1, lua: TOUCH });
  }

  private key(id: string): string {
    return this.keys.session(createHash('sha256').update(id).digest('base64url'));
  }

  async create(user: string, idleTtlMs: number): Promise<Session> {
    const now = this.now();
    const id = newSessionId();
    const key = this.key(id);
    const r = await this.redis.multi().hset(key, 'u', user, 'c', now, 'l', now, 'x', now + idleTtlMs).pexpire(key, Math.max(1, Math.round(idleTtlMs)) + CLEANUP_SLACK_MS).exec();
    const failed = r ? r.find(([err]) => err)?.[0] : new Error('transaction aborted');
    if (failed) throw failed;
    return { id, user, createdAt: now, lastSeenAt: now };
  }

  async get(id: string): Promise<Session | undefined> {
    const h = await this.redis.hgetall(this.key(id));
    if (!h.u || Number(h.x) <= this.now()) return undefined;
    return { id, user: h.u, createdAt: Number(h.c), lastSeenAt: Number(h.l) };
  }

  async touch(id: string, idleTtlMs: number): Promise<void> {
    await this.redis.sbTouch(this.key(id), this.now(), Math.max(1, Math.round(idleTtlMs)), CLEANUP_SLACK_MS);
  }

  async delete(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }

  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}
