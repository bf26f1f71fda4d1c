/**
 * Lua scripts of the Redis webhook outbox and occupancy (each atomic in Redis). Every
 * key they touch carries the `{webhooks}` hash tag: one Redis Cluster slot.
 *
 * Outbox keys: `seq` (counter), `queue` (sorted set id → seq: the order), `events` (hash
 * id → event JSON), `state` (hash id → `"<attempts>:<nextAt>:<key>"`, the key being the
 * event's ordering key, `outboxKey`; entries stored before keys existed have no third part
 * and get theirs from the event).
 */

/** Adds an event once (a known id is a no-op); 1 when it was added. A nil key is read from the event. */
const ENQUEUE = `
local function enqueue(seq, queue, events, state, id, json, nextAt, key)
  if redis.call('HEXISTS', events, id) == 1 then return 0 end
  if not key then
    local ev = cjson.decode(json)
    if type(ev.channel) == 'string' then key = 'c:' .. ev.channel elseif type(ev.user) == 'string' then key = 'u:' .. ev.user else key = '' end
  end
  redis.call('ZADD', queue, redis.call('INCR', seq), id)
  redis.call('HSET', events, id, json)
  redis.call('HSET', state, id, '0:' .. nextAt .. ':' .. key)
  return 1
end
`;

/** KEYS: seq, queue, events, state. ARGV: id, json, nextAt, key. */
export const ADD = `${ENQUEUE}
return enqueue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`;

/** Splits a state value into attempts, nextAt and key (nil: stored before keys). */
const PARSE_STATE = `
local function parseState(st)
  local a = string.find(st, ':', 1, true)
  local b = string.find(st, ':', a + 1, true)
  if not b then return string.sub(st, 1, a - 1), string.sub(st, a + 1), nil end
  return string.sub(st, 1, a - 1), string.sub(st, a + 1, b - 1), string.sub(st, b + 1)
end
`;

/**
 * KEYS: queue, events, state. ARGV: now, limit, leased until, per key, window. Among the
 * oldest `window` entries: per key, consecutive due entries from its oldest, at most `per
 * key`, at most `limit` in all, oldest first (a key whose next entry is not due gives no
 * more). Each one answered is leased (its nextAt set to `leased until`). Returns
 * `[json, attempts, nextAt, …]`.
 */
export const DUE = `${PARSE_STATE}
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1)
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local perKey = tonumber(ARGV[4])
local taken = {}
local got = 0
local out = {}
for _, id in ipairs(ids) do
  if got >= limit then break end
  local st = redis.call('HGET', KEYS[3], id)
  local json = redis.call('HGET', KEYS[2], id)
  if not st or not json then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  else
    local attempts, nextAt, key = parseState(st)
    if not key then
      local ev = cjson.decode(json)
      if type(ev.channel) == 'string' then key = 'c:' .. ev.channel elseif type(ev.user) == 'string' then key = 'u:' .. ev.user else key = '' end
    end
    local n = taken[key] or 0
    if n >= 0 then
      if n >= perKey or tonumber(nextAt) > now then
        taken[key] = -1
      else
        taken[key] = n + 1
        got = got + 1
        redis.call('HSET', KEYS[3], id, attempts .. ':' .. ARGV[3] .. ':' .. key)
        out[#out + 1] = json
        out[#out + 1] = attempts
        out[#out + 1] = nextAt
      end
    end
  end
end
return out
`;

/** KEYS: state. ARGV: id, attempts, nextAt. Updates an entry still there (its key kept). */
export const RETRY = `${PARSE_STATE}
local st = redis.call('HGET', KEYS[1], ARGV[1])
if not st then return 0 end
local _, _, key = parseState(st)
if key then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3] .. ':' .. key)
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
end
return 1
`;

/**
 * Occupancy (channels and users), per node with node liveness: a subject is a member
 * `c:<channel>` or `u:<user>`; `<member>` is the set of nodes holding it, `node:<id>` the set
 * of members node id holds, `live` node id → expiry (refreshed by each node), `announced`
 * the set of members announced up (occupied, online). Refreshing costs one command per node
 * whatever it holds; a dead node's members are settled by the others through its set.
 *
 * Shared KEYS: [1] the subject's nodes, [2] the node's members, [3] live, [4] announced,
 * then the outbox's seq, queue, events, state ([5]..[8]).
 */

/**
 * ARGV: node, member, liveness expiry, event id, event JSON ('' for none), nextAt.
 * 1 when the member was not announced up (it is now, and the event is enqueued).
 */
export const OCCUPY = `${ENQUEUE}
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 'GT', ARGV[3], ARGV[1])
if redis.call('SADD', KEYS[4], ARGV[2]) == 0 then return 0 end
if ARGV[5] ~= '' then enqueue(KEYS[5], KEYS[6], KEYS[7], KEYS[8], ARGV[4], ARGV[5], ARGV[6], nil) end
return 1
`;

/**
 * ARGV: node, member, now, event id, event JSON ('' for none), nextAt, settling ('1': a
 * sweep removes a dead node, and does nothing if the node turned out to be alive). Removes
 * the node from the member; when no node is left and the member was announced up, it is
 * not any more and the event is enqueued: 1.
 */
export const VACATE = `${ENQUEUE}
if ARGV[7] == '1' then
  local expiry = redis.call('ZSCORE', KEYS[3], ARGV[1])
  if expiry and tonumber(expiry) > tonumber(ARGV[3]) then return 0 end
end
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('SCARD', KEYS[1]) > 0 then return 0 end
if redis.call('SREM', KEYS[4], ARGV[2]) == 0 then return 0 end
if ARGV[5] ~= '' then enqueue(KEYS[5], KEYS[6], KEYS[7], KEYS[8], ARGV[4], ARGV[5], ARGV[6], nil) end
return 1
`;

/** KEYS: the node's members, live. ARGV: node, now. Forgets a dead node that holds nothing any more. */
export const FORGET = `
if redis.call('SCARD', KEYS[1]) > 0 then return 0 end
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
if expiry and tonumber(expiry) > tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;
