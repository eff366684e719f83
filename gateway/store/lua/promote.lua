-- Move due messages of a provider from delayed to ready (or to EXPIRED).
-- ARGV: now, provider, limit.  Returns the number moved to ready.
local now, p, limit = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', K.delayed(p), '-inf', now, 'LIMIT', 0, limit)
if #ids == 0 then return 0 end
redis.call('ZREM', K.delayed(p), unpack(ids))
local moved, woken = 0, {}
for _, id in ipairs(ids) do
  local mkey = K.message(id)
  local f = redis.call('HMGET', mkey, 's', 'pr')
  local s = tonumber(f[1])
  if s == nil or FINAL[s] then
    -- gone or cancelled
  elseif expired(mkey, now) then
    finalize(id, EXPIRED, 0, now)
  else
    enqueue(id, p, f[2], now, now, woken)
    moved = moved + 1
  end
end
wake(woken)
return moved
