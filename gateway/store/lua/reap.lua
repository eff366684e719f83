-- Return in-flight messages of dead owners (lease expired before now) to their ready
-- queues.  ARGV: now, [owner]: with an owner, that owner is released whatever its
-- lease (a clean stop).  Returns the number of messages returned.
local now, only = tonumber(ARGV[1]), ARGV[2]
local dead = {}
if only and only ~= '' then
  dead[only] = true
else
  for _, o in ipairs(redis.call('ZRANGEBYSCORE', K.LEASES, '-inf', '(' .. now)) do dead[o] = true end
end
if next(dead) == nil then return 0 end
local count, woken = 0, {}
for _, p in ipairs(redis.call('SMEMBERS', K.PROVIDERS)) do
  local held = redis.call('HGETALL', K.inflight(p))
  for i = 1, #held, 2 do
    local id, owner = held[i], held[i + 1]
    if dead[owner] then
      local mkey = K.message(id)
      redis.call('HDEL', K.inflight(p), id)
      redis.call('HDEL', mkey, 'o')
      enqueue(id, p, redis.call('HGET', mkey, 'pr'), now, now, woken)
      count = count + 1
    end
  end
end
for o in pairs(dead) do redis.call('ZREM', K.LEASES, o) end
wake(woken)
return count
