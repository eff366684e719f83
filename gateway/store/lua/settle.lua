-- Apply the outcomes of send attempts.  ARGV: now, owner, upstream TTL (s), max attempts,
-- msgpack [{id, kind, error code, retry due (ms), {upstream ids}}, ...] with kind
-- 'sent' | 'retry' (temporary error) | 'fail' (permanent error: fail over).
-- Returns, per result, 1 if applied, 0 if the message was no longer ours (reaped; a
-- 'sent' is applied all the same, and the message taken off the queues).
local now, owner, ttl, max_attempts = tonumber(ARGV[1]), ARGV[2], int(tonumber(ARGV[3])), tonumber(ARGV[4])
local results = cmsgpack.unpack(ARGV[5])
local out, woken = {}, {}

-- What settling reads of a message, with one HMGET (the f of the functions below; their
-- attempts: the message's attempt count, this one included).
local SETTLE_FIELDS = {'p', 's', 'h', 'ad', 'r', 'a', 'n', 'pr'}

local function sent(id, mkey, f, p, uids, attempts)
  for _, uid in ipairs(uids) do redis.call('SET', K.upstream(p, uid), id, 'EX', ttl) end
  local u, n = table.concat(uids, ' '), small(attempts)
  local s = tonumber(f.s)
  if s ~= nil and not FINAL[s] and s ~= ENROUTE then
    set_state(mkey, id, ENROUTE, now, f.h, f.ad, 'u', u, 'e', '0', 'n', n)
    dlr_if_wanted(id, mkey, ENROUTE, 0, now, f)
  else
    redis.call('HSET', mkey, 'u', u, 'e', '0', 'n', n)
  end
end

local function retry(id, mkey, f, p, code, due, attempts)
  redis.call('HSET', mkey, 'e', code, 'n', attempts)
  if attempts >= max_attempts then
    redis.call('HSET', mkey, 'dl', 1)
    redis.call('ZADD', K.DEAD, now, id)
  else
    enqueue(id, p, f.pr, due, now, woken)
  end
end

local function fail_over(id, mkey, f, code, attempts)
  redis.call('HSET', mkey, 'e', code, 'n', attempts)
  local route = split(redis.call('HGET', mkey, 'rt'), ',')
  local ri = redis.call('HINCRBY', mkey, 'ri', 1)
  if ri < #route then
    local np = route[ri + 1]
    redis.call('HSET', mkey, 'p', np)
    enqueue(id, np, f.pr, now, now, woken)
  else
    finalize(id, UNDELIVERABLE, code, now)
  end
end

for i, r in ipairs(results) do
  local id, kind, code = r[1], r[2], r[3]
  local mkey = K.message(id)
  local f = read_fields(mkey, SETTLE_FIELDS)
  local p = f.p
  local ours = p and redis.call('HGET', K.inflight(p), id) == owner
  out[i] = '0'
  if ours then
    redis.call('HDEL', K.inflight(p), id)
  elseif p and kind == 'sent' then
    -- reaped while we were sending: take it back from the queues so it is not sent again
    redis.call('ZREM', K.ready(p), id)
    redis.call('ZREM', K.delayed(p), id)
  end
  if p and (ours or kind == 'sent') then
    local attempts = (tonumber(f.n) or 0) + 1
    if kind == 'sent' then sent(id, mkey, f, p, r[5], attempts)
    elseif kind == 'retry' then retry(id, mkey, f, p, code, r[4], attempts)
    else fail_over(id, mkey, f, code, attempts) end
    if ours then out[i] = '1' end
  end
end
wake(woken)
return table.concat(out, ',')
