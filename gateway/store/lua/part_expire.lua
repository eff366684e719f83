-- Multipart messages still incomplete at their deadline: kept as REJECTED with what
-- arrived and error ARGV[2] (DLR if asked).  ARGV: now, error code.  Returns the count.
local now, code = tonumber(ARGV[1]), tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', K.MULTIPART_PENDING, '-inf', now, 'LIMIT', 0, 1000)
for _, mk in ipairs(due) do
  local env = redis.call('HGET', mk, 'env')
  if env then
    local m = cmsgpack.unpack(env)
    local comment
    m[9], comment = assemble(mk, tonumber(redis.call('HGET', mk, 'total')))
    store_rejected(now, m, code)
    if comment ~= '' then redis.call('HSET', K.message(m[1]), 'c', comment) end
  end
  redis.call('DEL', mk)
  redis.call('ZREM', K.MULTIPART_PENDING, mk)
end
return #due
