/**
 * Lua scripts of the Redis webhook outbox and channel occupancy (each atomic in Redis). Every
 * key they touch carries the `{webhooks}` hash tag: one Redis Cluster slot.
 *
 * Outbox keys: `seq` (counter), `queue` (sorted set id → seq: the order), `events` (hash
 * id → event JSON), `state` (hash id → `"<attempts>:<nextAt>"`).
 */

/** Adds an event once (a known id is a no-op); 1 when it was added. */
const ENQUEUE = `
local function enqueue(seq, queue, events, state, id, json, nextAt)
  if redis.call('HEXISTS', events, id) == 1 then return 0 end
  redis.call('ZADD', queue, redis.call('INCR', seq), id)
  redis.call('HSET', events, id, json)
  redis.call('HSET', state, id, '0:' .. nextAt)
  return 1
end
`;

/** KEYS: seq, queue, events, state. ARGV: id, json, nextAt. */
export const ADD = `${ENQUEUE}
return enqueue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3])
`;

/**
 * KEYS: queue, events, state. ARGV: now, limit, leased until. The due head of the queue,
 * oldest first, stopping at the first entry not due; each one answered is leased (its
 * nextAt set to `leased until`). Returns `[json, attempts, nextAt, …]`.
 */
export const DUE = `
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local now = tonumber(ARGV[1])
local out = {}
for _, id in ipairs(ids) do
  local st = redis.call('HGET', KEYS[3], id)
  local json = redis.call('HGET', KEYS[2], id)
  if not st or not json then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
  else
    local sep = string.find(st, ':', 1, true)
    local attempts = string.sub(st, 1, sep - 1)
    local nextAt = string.sub(st, sep + 1)
    if tonumber(nextAt) > now then break end
    redis.call('HSET', KEYS[3], id, attempts .. ':' .. ARGV[3])
    out[#out + 1] = json
    out[#out + 1] = attempts
    out[#out + 1] = nextAt
  end
end
return out
`;

/** KEYS: state. ARGV: id, attempts, nextAt. Updates an entry still there. */
export const RETRY = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
return 1
`;

/**
 * Channel occupancy: `channel:<channel>` is a sorted set node id → expiry (the nodes with
 * local subscribers, each refreshed by its node); `occupied` a sorted set channel → the
 * latest expiry of its nodes, holding exactly the channels announced occupied.
 *
 * KEYS: the channel's nodes, occupied, then the outbox's seq, queue, events, state.
 * ARGV: node, expiry, channel, event id, event JSON ('' for none), nextAt.
 * 1 when the channel was not announced occupied (it is now, and the event is enqueued).
 */
export const OCCUPY = `${ENQUEUE}
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if redis.call('ZSCORE', KEYS[2], ARGV[3]) then
  redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[3])
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if ARGV[5] ~= '' then enqueue(KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[4], ARGV[5], ARGV[6]) end
return 1
`;

/**
 * KEYS: as OCCUPY. ARGV: node ('' when a sweep settles a channel), now, channel, event id,
 * event JSON ('' for none), nextAt. Removes the node and the expired nodes (dead ones); when
 * none is left and the channel was announced occupied, it is not any more and the event is
 * enqueued: 1. Otherwise the channel's index score follows its latest live node.
 */
export const VACATE = `${ENQUEUE}
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #top > 0 then
  if redis.call('ZSCORE', KEYS[2], ARGV[3]) then redis.call('ZADD', KEYS[2], top[2], ARGV[3]) end
  return 0
end
if redis.call('ZREM', KEYS[2], ARGV[3]) == 0 then return 0 end
if ARGV[5] ~= '' then enqueue(KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[4], ARGV[5], ARGV[6]) end
return 1
`;
