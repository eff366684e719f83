-- Dead-letter administration.  ARGV: now, action ('retry' | 'drop'), ids...
-- retry: back to the ready queue of its provider with the attempt count reset;
-- drop: final UNDELIVERABLE with its last error code (DLR if asked).
-- Returns the number of messages acted on.
local now, action = tonumber(ARGV[1]), ARGV[2]
local count, woken = 0, {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('ZREM', K.DEAD, id) == 1 then
    local mkey = K.message(id)
    redis.call('HDEL', mkey, 'dl')
    if action == 'retry' then
      redis.call('HSET', mkey, 'n', 0)
      local f = redis.call('HMGET', mkey, 'p', 'pr')
      enqueue(id, f[1], f[2], now, now, woken)
    else
      finalize(id, UNDELIVERABLE, tonumber(redis.call('HGET', mkey, 'e')) or 0, now)
    end
    count = count + 1
  end
end
wake(woken)
return count
