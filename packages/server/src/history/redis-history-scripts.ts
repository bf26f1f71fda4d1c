/**
 * Lua scripts of `RedisHistoryStore`. Each runs atomically in Redis, so the offset counter,
 * the stream, the idempotency key and the pub/sub message of one publication can never be
 * seen half-done, and publications reach every node in offset order.
 */

/**
 * Helpers: drop expired entries from a stream's head (ids are `<offset>-0`); read or create
 * the meta; branches.
 *
 * Branches: the meta records (`r`) the replication id of the primary that writes the stream
 * (`master_replid`, which a replica inherits and a promotion or a restart without RDB
 * replaces). An append under another replication id means the primary changed: what the old
 * one wrote past the last offset this one holds may have been discarded (a partition during
 * a failover). The stream then forks: a new epoch continues the offsets, and the lineage
 * (`l`: `<epoch>:<last offset of that epoch here>;…`, the last 8 forks) remembers where each
 * earlier epoch ended on this branch. A position of an earlier epoch at or before that offset
 * lies on this branch and recovers; one past it may lie on a discarded branch and does not
 * (`recovered: false`), never a continuation from another timeline.
 */
const TRIM_EXPIRED = `
local function trim_expired(stream, minTs)
  -- The common case: the oldest entry is still young, one cheap look.
  local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  if #head == 0 or tonumber(head[1][2][4]) >= minTs then return end
  while true do
    local batch = redis.call('XRANGE', stream, '-', '+', 'COUNT', 64)
    if #batch == 0 then return end
    local keep = nil
    for i = 1, #batch do
      if tonumber(batch[i][2][4]) >= minTs then keep = batch[i][1]; break end
    end
    if keep then
      if keep ~= batch[1][1] then redis.call('XTRIM', stream, 'MINID', keep) end
      return
    end
    local last = tonumber(string.match(batch[#batch][1], '^(%d+)'))
    redis.call('XTRIM', stream, 'MINID', (last + 1) .. '-0')
    if #batch < 64 then return end
  end
end
local function replid()
  return string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)') or ''
end
-- True when (epoch, offset) lies on this stream's branch through an earlier epoch.
local function inherited(lineage, epoch, offset)
  for e, last in string.gmatch(lineage or '', '([^:;]+):(%d+)') do
    if e == epoch then return offset <= tonumber(last) end
  end
  return false
end
-- The meta for writing: created, or forked into a new epoch when another primary wrote it.
local function meta(key, newEpoch, metaTtl)
  local m = redis.call('HMGET', key, 'e', 'o', 'r', 'l')
  local e, o, r = m[1], tonumber(m[2] or '0'), replid()
  if not e then
    e = newEpoch
    redis.call('HSET', key, 'e', e, 'o', 0, 'r', r)
  elseif m[3] == false then
    redis.call('HSET', key, 'r', r)
  elseif m[3] ~= r then
    local lineage = (m[4] or '') .. e .. ':' .. o .. ';'
    local _, forks = string.gsub(lineage, ';', '')
    if forks > 8 then lineage = string.gsub(lineage, '^[^;]*;', '') end
    e = newEpoch
    redis.call('HSET', key, 'e', e, 'r', r, 'l', lineage)
  end
  redis.call('PEXPIRE', key, metaTtl)
  return e, o
end
-- The offset an idempotency key recorded, when its publication is on this branch.
local function seenAt(key, idKey, epoch, now)
  local seen = redis.call('GET', idKey)
  if not seen then return nil end
  local e, o, exp = string.match(seen, '^([^:]*):(%d+):(%d+)$')
  if not e or tonumber(exp) <= now then return nil end
  o = tonumber(o)
  if e == epoch or inherited(redis.call('HGET', key, 'l'), e, o) then return o, e end
  return nil
end
`;

/**
 * KEYS: meta, stream, idempotency key, pub/sub channel.
 * ARGV: publication JSON without offset/epoch, new epoch, size, minTs, stream ttl ms,
 * meta ttl ms, dedup window ms (0: no key), publish command ('' for none), ts, now.
 * The idempotency value is `<epoch>:<offset>:<expires at>`: the store's clock decides, and
 * Redis' own expiry (PX) only cleans up. Entry times are kept monotonic per stream (`t` in
 * the meta), so dropping expired entries from the head is exact even with skewed node clocks.
 * Returns {epoch, offset, duplicate (0/1)}; a duplicate answers the epoch it was stored in.
 */
export const APPEND = `${TRIM_EXPIRED}
local epoch, offset = meta(KEYS[1], ARGV[2], ARGV[6])
local now = tonumber(ARGV[10])
if ARGV[7] ~= '0' then
  local o, e = seenAt(KEYS[1], KEYS[3], epoch, now)
  if o then return {e, o, 1} end
end
offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
local t = tonumber(ARGV[9])
local lastT = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
if t < lastT then t = lastT end
redis.call('HSET', KEYS[1], 't', t)
local msg = '{"offset":' .. offset .. ',"epoch":"' .. epoch .. '",' .. string.sub(ARGV[1], 2)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], offset .. '-0', 'p', msg, 't', t)
trim_expired(KEYS[2], tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if ARGV[7] ~= '0' then
  redis.call('SET', KEYS[3], epoch .. ':' .. offset .. ':' .. (now + tonumber(ARGV[7])), 'PX', ARGV[7])
end
if ARGV[8] ~= '' then redis.call(ARGV[8], KEYS[4], msg) end
return {epoch, offset, 0}
`;

/**
 * Several publications of one channel in one call (`APPEND` for each, in order, atomically):
 * one script run instead of one per publication, the meta and trimming done once.
 * KEYS: meta, stream, pub/sub channel, then one idempotency key per publication (possibly
 * followed by unused ones: the count of publications is given by ARGV).
 * ARGV: new epoch, size, minTs, stream ttl ms, meta ttl ms, publish command ('' for none),
 * now, then per publication: JSON without offset/epoch, dedup window ms (0: no key), ts,
 * publish ('1'/'0').
 * A key seen earlier in the same call is a duplicate, as it would be one call later.
 * Returns {epoch, offset 1, duplicate 1, offset 2, duplicate 2, …}; a duplicate stored in an
 * earlier epoch of this branch answers that epoch in place of its duplicate flag's 1.
 */
export const APPEND_MANY = `${TRIM_EXPIRED}
local epoch, offset = meta(KEYS[1], ARGV[1], ARGV[5])
local now = tonumber(ARGV[7])
local lastT = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local out = {epoch}
local added = 0
for i = 0, (#ARGV - 7) / 4 - 1 do
  local a = 8 + i * 4
  local window = ARGV[a + 1]
  local idKey = KEYS[4 + i]
  local dup, dupEpoch = nil, nil
  if window ~= '0' then dup, dupEpoch = seenAt(KEYS[1], idKey, epoch, now) end
  if dup then
    out[#out + 1] = dup
    if dupEpoch == epoch then out[#out + 1] = 1 else out[#out + 1] = dupEpoch end
  else
    offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
    added = added + 1
    local t = tonumber(ARGV[a + 2])
    if t < lastT then t = lastT end
    lastT = t
    local msg = '{"offset":' .. offset .. ',"epoch":"' .. epoch .. '",' .. string.sub(ARGV[a], 2)
    redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[2], offset .. '-0', 'p', msg, 't', t)
    if window ~= '0' then
      redis.call('SET', idKey, epoch .. ':' .. offset .. ':' .. (now + tonumber(window)), 'PX', window)
    end
    if ARGV[a + 3] == '1' and ARGV[6] ~= '' then redis.call(ARGV[6], KEYS[3], msg) end
    out[#out + 1] = offset
    out[#out + 1] = 0
  end
end
if added > 0 then
  redis.call('HSET', KEYS[1], 't', lastT)
  trim_expired(KEYS[2], tonumber(ARGV[3]))
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return out
`;

/**
 * KEYS: claim key. ARGV: now, window ms. The value is its expiry by the store's clock.
 * Returns 1 when the key is new (now claimed), 0 when it was claimed within the window.
 */
export const CLAIM = `
local seen = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[1])
if seen and tonumber(seen) > now then return 0 end
redis.call('SET', KEYS[1], now + tonumber(ARGV[2]), 'PX', ARGV[2])
return 1
`;

/**
 * KEYS: meta, stream. ARGV: unwritten epoch, minTs, meta ttl ms, since epoch ('' for none),
 * since offset, limit, reverse ('1'/'0'), max bytes (0: no bound).
 * A stream without meta was never written (or is gone): the read creates nothing and answers
 * the unwritten position. A since at the unwritten position (epoch ARGV[1], offset 0) is
 * recoverable while offset 1 is still retained.
 * Entries are fetched in small batches and the walk stops at `limit` publications or before
 * the one that would pass max bytes (the first always comes), so a read never loads far more
 * than it returns.
 * A since of an earlier epoch of this branch (the lineage) at or before where that epoch
 * ended here reads on as if it were of the current epoch; past it, it is not recoverable.
 * Returns {epoch, offset, recoverable (0/1), more (0/1), publication JSON…}; more: retained
 * publications lie beyond the last one returned, in the read's direction.
 */
export const READ = `${TRIM_EXPIRED}
local hasSince = ARGV[4] ~= ''
local since = tonumber(ARGV[5])
local fromUnwritten = ARGV[4] == ARGV[1] and since == 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  if hasSince and not fromUnwritten then return {ARGV[1], 0, 0, 0} end
  return {ARGV[1], 0, 1, 0}
end
local epoch, offset = meta(KEYS[1], ARGV[1], ARGV[3])
trim_expired(KEYS[2], tonumber(ARGV[2]))
local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local first = offset + 1
if #head > 0 then first = tonumber(string.match(head[1][1], '^(%d+)')) end
local sameBranch = ARGV[4] == epoch or (hasSince and inherited(redis.call('HGET', KEYS[1], 'l'), ARGV[4], since))
if hasSince and not sameBranch and not (fromUnwritten and first == 1) then return {epoch, offset, 0, 0} end
if hasSince and sameBranch and (since > offset or since < first - 1) then return {epoch, offset, 0, 0} end
local limit = tonumber(ARGV[6])
local maxBytes = tonumber(ARGV[8])
local reverse = ARGV[7] == '1'
local out = {epoch, offset, 1, 0}
if limit <= 0 then return out end
local bound = '-'
if reverse then bound = '+' end
if hasSince then bound = '(' .. since .. '-0' end
local count, bytes = 0, 0
while true do
  local want = limit - count + 1
  if want > 32 then want = 32 end
  local entries
  if reverse then
    entries = redis.call('XREVRANGE', KEYS[2], bound, '-', 'COUNT', want)
  else
    entries = redis.call('XRANGE', KEYS[2], bound, '+', 'COUNT', want)
  end
  for i = 1, #entries do
    local json = entries[i][2][2]
    bytes = bytes + #json
    if count == limit or (maxBytes > 0 and count > 0 and bytes > maxBytes) then
      out[4] = 1
      return out
    end
    out[#out + 1] = json
    count = count + 1
    bound = '(' .. entries[i][1]
  end
  if #entries < want then return out end
end
`;

/** KEYS: meta. ARGV: unwritten epoch. Returns {epoch, offset}; creates nothing. */
export const POSITION = `
local e = redis.call('HGET', KEYS[1], 'e')
if not e then return {ARGV[1], 0} end
return {e, tonumber(redis.call('HGET', KEYS[1], 'o'))}
`;
