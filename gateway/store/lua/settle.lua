-- Apply the outcomes of send attempts.  ARGV: now, owner, upstream TTL (s), max attempts,
-- msgpack [{id, kind, error code, retry due (ms), {upstream ids}}, ...] with kind
-- 'sent' | 'retry' (temporary error) | 'fail' (permanent error: fail over).
-- Returns, per result, 1 if applied, 0 if the message was no longer ours (reaped; a
-- 'sent' is applied all the same, and the message taken off the queues).
local now, owner, ttl, max_attempts = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local results = cmsgpack.unpack(ARGV[5])
local out, woken = {}, {}

local function sent(id, mkey, p, uids)
  redis.call('HSET', mkey, 'u', table.concat(uids, ' '), 'e', 0)
  for _, uid in ipairs(uids) do redis.call('SET', K.upstream(p, uid), id, 'EX', ttl) end
  local s = tonumber(redis.call('HGET', mkey, 's'))
  if s ~= nil and not FINAL[s] and s ~= ENROUTE then
    add_history(mkey, ENROUTE, now)
    dlr_if_wanted(id, mkey, ENROUTE, 0, now)
  end
end

local function retry(id, mkey, p, code, due, attempts)
  redis.call('HSET', mkey, 'e', code)
  if attempts >= max_attempts then
    redis.call('HSET', mkey, 'dl', 1)
    redis.call('ZADD', K.DEAD, now, id)
  else
    enqueue(id, p, redis.call('HGET', mkey, 'pr'), due, now, woken)
  end
end

local function fail_over(id, mkey, code)
  redis.call('HSET', mkey, 'e', code)
  local route = split(redis.call('HGET', mkey, 'rt'), ',')
  local ri = redis.call('HINCRBY', mkey, 'ri', 1)
  if ri < #route then
    local np = route[ri + 1]
    redis.call('HSET', mkey, 'p', np)
    enqueue(id, np, redis.call('HGET', mkey, 'pr'), now, now, woken)
  else
    finalize(id, UNDELIVERABLE, code, now)
  end
end

for i, r in ipairs(results) do
  local id, kind, code = r[1], r[2], r[3]
  local mkey = K.message(id)
  local p = redis.call('HGET', mkey, 'p')
  local ours = p and redis.call('HGET', K.inflight(p), id) == owner
  out[i] = 0
  if ours then
    redis.call('HDEL', K.inflight(p), id)
    redis.call('HDEL', mkey, 'o')
  elseif p and kind == 'sent' then
    -- reaped while we were sending: take it back from the queues so it is not sent again
    redis.call('ZREM', K.ready(p), id)
    redis.call('ZREM', K.delayed(p), id)
  end
  if p and (ours or kind == 'sent') then
    local attempts = redis.call('HINCRBY', mkey, 'n', 1)
    if kind == 'sent' then sent(id, mkey, p, r[5])
    elseif kind == 'retry' then retry(id, mkey, p, code, r[4], attempts)
    else fail_over(id, mkey, code) end
    if ours then out[i] = 1 end
  end
end
wake(woken)
return table.concat(out, ',')
