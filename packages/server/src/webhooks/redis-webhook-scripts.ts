/**
 * Lua scripts of the Redis webhook outbox and occupancy (each atomic in Redis). Every
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
if ARGV[5] ~= '' then enqueue(KEYS[5], KEYS[6], KEYS[7], KEYS[8], ARGV[4], ARGV[5], ARGV[6]) end
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
if ARGV[5] ~= '' then enqueue(KEYS[5], KEYS[6], KEYS[7], KEYS[8], ARGV[4], ARGV[5], ARGV[6]) end
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
