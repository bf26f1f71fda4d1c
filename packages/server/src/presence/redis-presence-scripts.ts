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

/**
 * True when a member of the hash other than \`client\` belongs to the user whose JSON value
 * starts with \`prefix\` (\`{"user":<json string>\`, written first by the store).
 */
const HAS_USER = `
local function hasUser(hash, prefix, client)
  local all = redis.call('HGETALL', hash)
  for i = 1, #all, 2 do
    if all[i] ~= client then
      local v = all[i + 1]
      if string.sub(v, 1, #prefix) == prefix then
        local nextc = string.sub(v, #prefix + 1, #prefix + 1)
        if nextc == ',' or nextc == '}' then return true end
      end
    end
  end
  return false
end
`;

/**
 * KEYS: members zset, member hash. ARGV: client, value JSON, expiry, now, ttl, user prefix.
 * Adds the member; 1 when no other live connection of its user is in the channel.
 */
export const ADD = `${PRUNE}${HAS_USER}
prune(KEYS[1], KEYS[2], ARGV[4])
local first = 1
if hasUser(KEYS[2], ARGV[6], ARGV[1]) then first = 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return first
`;

/**
 * KEYS: members zset, member hash. ARGV: client, now. Removes the member; 1 when it was
 * there and no other live connection of its user is left in the channel.
 */
export const REMOVE = `${PRUNE}${HAS_USER}
local v = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if not v then return 0 end
prune(KEYS[1], KEYS[2], ARGV[2])
-- User ids carry no quote or backslash: the id's JSON string ends at the next quote after '{"user":"'.
local close = string.find(v, '"', 10, true)
if not close then return 0 end
local prefix = string.sub(v, 1, close)
if hasUser(KEYS[2], prefix, ARGV[1]) then return 0 end
return 1
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
