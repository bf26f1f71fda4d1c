/** Lua scripts of `RedisPresenceStore` (each atomic in Redis). */

/** Removes expired members (score <= now) of a sorted set and the same fields of a hash. */
const PRUNE = `
local function prune(zset, hash, now)
  local dead = redis.call('ZRANGEBYSCORE', zset, '-inf', now)
  if #dead == 0 then return end
  redis.call('ZREM', zset, unpack(dead))
  if hash then redis.call('HDEL', hash, unpack(dead)) end
end
`;

/** KEYS: members zset, member hash. ARGV: now. Returns the live members' JSON values. */
export const GET = `${PRUNE}
prune(KEYS[1], KEYS[2], ARGV[1])
return redis.call('HVALS', KEYS[2])
`;

/** KEYS: connections zset, announced flag. ARGV: client, expiry, now, key ttl. 1 when the user must be announced online. */
export const USER_UP = `${PRUNE}
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1')
return 1
`;

/** KEYS: connections zset. ARGV: client, now. Returns how many live connections are left. */
export const USER_DOWN = `${PRUNE}
redis.call('ZREM', KEYS[1], ARGV[1])
prune(KEYS[1], nil, ARGV[2])
return redis.call('ZCARD', KEYS[1])
`;

/** KEYS: connections zset, announced flag. ARGV: now. 1 when the user must be announced offline. */
export const SETTLE = `${PRUNE}
prune(KEYS[1], nil, ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
if redis.call('DEL', KEYS[2]) == 1 then return 1 end
return 0
`;
