-- One part of a long message submitted part by part.  ARGV: now, key digest, part
-- number, total, deadline (ms), envelope (as in accept.lua, text = this part), part text.
-- The first part to arrive fixes the message id; the last one completes the message,
-- which is then checked (dedup, balance) and queued, or kept as REJECTED.
-- Returns {status, message id}.
local now, digest, num, total, deadline = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local env = cmsgpack.unpack(ARGV[6])
local acct = env[2]
local ctx = new_ctx()
local status = admit(ctx, now, acct, env[11], 0, 0, '', '')
if status ~= 0 then return {status, ''} end
commit(ctx, now)
local mk = K.multipart(acct, digest)
local id = redis.call('HGET', mk, 'id')
if not id then
  id = env[1]
  redis.call('HSET', mk, 'id', id, 'env', ARGV[6], 'total', total, 'have', 0)
  redis.call('ZADD', K.MULTIPART_PENDING, deadline, mk)
else
  total = tonumber(redis.call('HGET', mk, 'total'))
end
if redis.call('HSETNX', mk, 'p' .. num, ARGV[7]) == 1 then
  if redis.call('HINCRBY', mk, 'have', 1) >= total then
    local m = cmsgpack.unpack(redis.call('HGET', mk, 'env'))
    local comment
    m[9], comment = assemble(mk, total)
    redis.call('DEL', mk)
    redis.call('ZREM', K.MULTIPART_PENDING, mk)
    local full = new_ctx()
    status = admit(full, now, acct, 0, m[12], m[13], m[14], m[9])
    if status == 0 then
      commit(full, now)
      local woken = {}
      store_message(now, m, woken)
      wake(woken)
    else
      store_rejected(now, m, status)
    end
    if comment ~= '' then redis.call('HSET', K.message(id), 'c', comment) end
  end
end
return {status, id}
