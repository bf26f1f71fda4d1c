import type { AcquireResult, LoginLimit, LoginRegistry } from './login-registry.ts';
import { RedisKeys } from '../redis/keys.ts';
import { ExpiryRefresher } from '../redis/refresher.ts';
import { closeRedis, type RedisClient, type RedisConnection } from '../redis/connect.ts';
import type { Logger } from '../logger.ts';

/** Shared by the scripts: drops expired connections and logins left without one. */
const LIVE = `
local function live(clients, order, now)
  local dead = redis.call('ZRANGEBYSCORE', clients, '-inf', now)
  if #dead > 0 then redis.call('ZREM', clients, unpack(dead)) end
  local alive = {}
  for _, m in ipairs(redis.call('ZRANGE', clients, 0, -1)) do
    alive[string.match(m, '^(.*)|[^|]*$')] = true
  end
  for _, login in ipairs(redis.call('ZRANGE', order, 0, -1)) do
    if not alive[login] then redis.call('ZREM', order, login) end
  end
  return alive
end
local function drop_login(clients, order, login)
  redis.call('ZREM', order, login)
  for _, m in ipairs(redis.call('ZRANGE', clients, 0, -1)) do
    if string.match(m, '^(.*)|[^|]*$') == login then redis.call('ZREM', clients, m) end
  end
end
`;

/**
 * KEYS: clients, order, seq. ARGV: login, client, expiry, now, max, onLimit, key ttl.
 * Returns {1, evicted…} or {0, live count}.
 */
const ACQUIRE = `${LIVE}
local alive = live(KEYS[1], KEYS[2], ARGV[4])
local member = ARGV[1] .. '|' .. ARGV[2]
local function admit()
  redis.call('ZADD', KEYS[1], ARGV[3], member)
  if redis.call('ZSCORE', KEYS[2], ARGV[1]) == false then
    redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
  end
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
end
if alive[ARGV[1]] then admit() return {1} end
local n = redis.call('ZCARD', KEYS[2])
local max = tonumber(ARGV[5])
if n < max then admit() return {1} end
if ARGV[6] == 'reject_new' then return {0, n} end
local evicted = redis.call('ZRANGE', KEYS[2], 0, n - max)
for _, login in ipairs(evicted) do drop_login(KEYS[1], KEYS[2], login) end
admit()
local out = {1}
for _, login in ipairs(evicted) do out[#out + 1] = login end
return out
`;

/** KEYS: clients, order. ARGV: login, client, now. */
const RELEASE = `${LIVE}
redis.call('ZREM', KEYS[1], ARGV[1] .. '|' .. ARGV[2])
live(KEYS[1], KEYS[2], ARGV[3])
return 0
`;

/** KEYS: clients, order. ARGV: now. Live logins, oldest first. */
const LOGINS = `${LIVE}
live(KEYS[1], KEYS[2], ARGV[1])
return redis.call('ZRANGE', KEYS[2], 0, -1)
`;

interface Scripts {
  sbLoginAcquire(clients: string, order: string, seq: string, ...argv: Array<string | number>): Promise<Array<string | number>>;
  sbLoginRelease(clients: string, order: string, login: string, client: string, now: number): Promise<number>;
  sbLogins(clients: string, order: string, now: number): Promise<string[]>;
}

/**
 * Live logins for single sign-on, shared by every node. Per (scope, user): a sorted set of
 * `<login>|<client>` scored with expiry (refreshed by the node holding the connection, so a
 * dead node's logins free their slots after `entryTtlMs`) and a sorted set of logins in
 * admission order. `acquire` is one Lua script: two nodes racing for the last slot cannot
 * both win. Client ids never contain `|`, so the last `|` of a member separates it from the login.
 */
export class RedisLoginRegistry implements LoginRegistry {
  private readonly redis: RedisClient & Scripts;
  private readonly keys: RedisKeys;
  private readonly refresher: ExpiryRefresher;

  constructor(o: { connection: RedisConnection; keys?: RedisKeys; entryTtlMs?: number; refreshMs?: number; log?: Logger }) {
    this.redis = o.connection.redis as RedisClient & Scripts;
    this.keys = o.keys ?? new RedisKeys();
    this.refresher = new ExpiryRefresher({ redis: this.redis, ttlMs: o.entryTtlMs ?? 30_000, intervalMs: o.refreshMs ?? 10_000, ...(o.log ? { log: o.log } : {}) });
    this.redis.defineCommand('sbLoginAcquire', { numberOfKeys: 3, lua: ACQUIRE });
    this.redis.defineCommand('sbLoginRelease', { numberOfKeys: 2, lua: RELEASE });
    this.redis.defineCommand('sbLogins', { numberOfKeys: 2, lua: LOGINS });
  }

  async acquire(scope: string, user: string, login: string, client: string, limit: LoginLimit): Promise<AcquireResult> {
    const k = this.keys;
    const clients = k.loginClients(scope, user);
    const r = await this.redis.sbLoginAcquire(
      clients, k.loginOrder(scope, user), k.loginSeq(scope, user),
      login, client, this.refresher.expiry(), Date.now(), limit.maxPerUser, limit.onLimit, this.refresher.ttlMs * 2,
    );
    if (Number(r[0]) === 0) return { admitted: false, live: Number(r[1]) };
    // The order and the counter expire with the clients set: refreshed with it.
    this.refresher.track(clients, `${login}|${client}`, [k.loginOrder(scope, user), k.loginSeq(scope, user)]);
    return { admitted: true, evicted: r.slice(1).map(String) };
  }

  async release(scope: string, user: string, login: string, client: string): Promise<void> {
    const clients = this.keys.loginClients(scope, user);
    this.refresher.untrack(clients, `${login}|${client}`);
    await this.redis.sbLoginRelease(clients, this.keys.loginOrder(scope, user), login, client, Date.now());
  }

  async logins(scope: string, user: string): Promise<string[]> {
    return this.redis.sbLogins(this.keys.loginClients(scope, user), this.keys.loginOrder(scope, user), Date.now());
  }

  async close(): Promise<void> {
    this.refresher.stop();
    await closeRedis(this.redis);
  }
}
