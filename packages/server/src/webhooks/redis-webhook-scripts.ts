/**
 * Lua scripts of the Redis webhook outbox and occupancy (each atomic in Redis). Every
 * key they touch carries the `{webhooks}` hash tag: one Redis Cluster slot.
 *
 * Outbox keys: `events` (hash id → event JSON), `state` (hash id →
 * `"<attempts>:<nextAt>:<key>"`, the key being the event's ordering key, `outboxKey`), per
 * key a list `q:<key>` of its event ids in order, and `ready` (sorted set key → the nextAt of
 * its oldest event: when the key may next be served; leased, that is the lease's end).
 * `queue` (sorted set id → seq) and `seq` are the single line of earlier versions: events
 * found there are moved to their keys' lists, in order, by the next script that enqueues or
 * takes events.
 */

/** Splits a state value into attempts, nextAt and key (nil: stored before keys). */
const PARSE_STATE = `
local function parseState(st)
  local a = string.find(st, ':', 1, true)
  local b = string.find(st, ':', a + 1, true)
  if not b then return string.sub(st, 1, a - 1), string.sub(st, a + 1), nil end
  return string.sub(st, 1, a - 1), string.sub(st, a + 1, b - 1), string.sub(st, b + 1)
end
local function keyOf(json)
  local ev = cjson.decode(json)
  if type(ev.channel) == 'string' then return 'c:' .. ev.channel end
  if type(ev.user) == 'string' then return 'u:' .. ev.user end
  return ''
end
`;

/**
 * Sets a key's score in `ready` to its oldest event's nextAt (dropping ids whose event is
 * gone), or removes it when it has none. Then moves the earlier versions' single line, if any.
 */
const KEYED = `${PARSE_STATE}
local function rescore(ready, events, state, prefix, key)
  local list = prefix .. key
  while true do
    local head = redis.call('LINDEX', list, 0)
    if not head then
      redis.call('ZREM', ready, key)
      return
    end
    local st = redis.call('HGET', state, head)
    if st then
      local _, nextAt = parseState(st)
      redis.call('ZADD', ready, nextAt, key)
      return
    end
    redis.call('LPOP', list)
    redis.call('HDEL', events, head)
  end
end
local function migrate(queue, ready, events, state, prefix)
  if redis.call('EXISTS', queue) == 0 then return end
  local touched = {}
  for _, id in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
    local st = redis.call('HGET', state, id)
    local json = redis.call('HGET', events, id)
    if st and json then
      local attempts, nextAt, key = parseState(st)
      if not key then
        key = keyOf(json)
        redis.call('HSET', state, id, attempts .. ':' .. nextAt .. ':' .. key)
      end
      redis.call('RPUSH', prefix .. key, id)
      touched[key] = true
    else
      redis.call('HDEL', events, id)
      redis.call('HDEL', state, id)
    end
  end
  redis.call('DEL', queue)
  for key in pairs(touched) do rescore(ready, events, state, prefix, key) end
end
`;

/** Adds an event once (a known id is a no-op) at the end of its key's list; 1 when it was added. A nil key is read from the event. */
const ENQUEUE = `${KEYED}
local function enqueue(ready, queue, events, state, prefix, id, json, nextAt, key)
  migrate(queue, ready, events, state, prefix)
  if redis.call('HEXISTS', events, id) == 1 then return 0 end
  if not key then key = keyOf(json) end
  redis.call('HSET', events, id, json)
  redis.call('HSET', state, id, '0:' .. nextAt .. ':' .. key)
  if redis.call('RPUSH', prefix .. key, id) == 1 then redis.call('ZADD', ready, nextAt, key) end
  return 1
end
`;

/** KEYS: ready, queue, events, state. ARGV: id, json, nextAt, key, list prefix. */
export const ADD = `${ENQUEUE}
return enqueue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`;

/**
 * KEYS: ready, queue, events, state. ARGV: now, limit, leased until, per key, list prefix.
 * The keys whose oldest event is due, oldest first; of each, consecutive due events from its
 * oldest, at most `per key`; at most `limit` in all. Each one answered is leased (its nextAt
 * set to `leased until`, and so its key's score). Returns `[json, attempts, nextAt, …]`.
 */
export const DUE = `${KEYED}
local ready, events, state, prefix = KEYS[1], KEYS[3], KEYS[4], ARGV[5]
migrate(KEYS[2], ready, events, state, prefix)
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local perKey = tonumber(ARGV[4])
local out = {}
local got = 0
for _, key in ipairs(redis.call('ZRANGEBYSCORE', ready, '-inf', now, 'LIMIT', 0, limit)) do
  if got >= limit then break end
  local list = prefix .. key
  for _, id in ipairs(redis.call('LRANGE', list, 0, perKey - 1)) do
    if got >= limit then break end
    local st = redis.call('HGET', state, id)
    local json = redis.call('HGET', events, id)
    if not st or not json then break end
    local attempts, nextAt = parseState(st)
    if tonumber(nextAt) > now then break end
    redis.call('HSET', state, id, attempts .. ':' .. ARGV[3] .. ':' .. key)
    got = got + 1
    out[#out + 1] = json
    out[#out + 1] = attempts
    out[#out + 1] = nextAt
  end
  rescore(ready, events, state, prefix, key)
end
return out
`;

/** KEYS: ready, events, state. ARGV: id, list prefix. Removes an event (a missing id is a no-op); its key's next one becomes its head. */
export const DONE = `${KEYED}
local st = redis.call('HGET', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if not st then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
local _, _, key = parseState(st)
if not key then return 1 end
redis.call('LREM', ARGV[2] .. key, 1, ARGV[1])
rescore(KEYS[1], KEYS[2], KEYS[3], ARGV[2], key)
return 1
`;

/** KEYS: ready, events, state. ARGV: id, attempts, nextAt, list prefix. Updates an event still there (its key kept; its key's score when it is the head). */
export const RETRY = `${KEYED}
local st = redis.call('HGET', KEYS[3], ARGV[1])
if not st then return 0 end
local _, _, key = parseState(st)
if not key then key = keyOf(redis.call('HGET', KEYS[2], ARGV[1]) or '{}') end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ':' .. ARGV[3] .. ':' .. key)
if redis.call('LINDEX', ARGV[4] .. key, 0) == ARGV[1] then redis.call('ZADD', KEYS[1], ARGV[3], key) end
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
 * then the outbox's ready, queue, events, state ([5]..[8]); the last ARGV is the outbox's
 * list prefix.
 */

/**
 * ARGV: node, member, liveness expiry, event id, event JSON ('' for none), nextAt, list prefix.
 * 1 when the member was not announced up (it is now, and the event is enqueued).
 */
export const OCCUPY = `${ENQUEUE}
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 'GT', ARGV[3], ARGV[1])
if redis.call('SADD', KEYS[4], ARGV[2]) == 0 then return 0 end
if ARGV[5] ~= '' then enqueue(KEYS[5], KEYS[6], KEYS[7], KEYS[8], ARGV[7], ARGV[4], ARGV[5], ARGV[6], nil) end
return 1
`;

/**
 * ARGV: node, member, now, event id, event JSON ('' for none), nextAt, settling ('1': a
 * sweep removes a dead node, and does nothing if the node turned out to be alive), list prefix. Removes
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
if ARGV[5] ~= '' then enqueue(KEYS[5], KEYS[6], KEYS[7], KEYS[8], ARGV[8], ARGV[4], ARGV[5], ARGV[6], nil) end
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
