-- Cancel or replace a message of an account while it still waits in a queue.
-- ARGV: now, action, account, id, then for
--   cancel   (nothing)                 → DELETED (with a DLR if asked), off the queue
--   replace  blob, text, expiry ms or '' (keep), registered_delivery or '' (keep),
--            due ms or '' (keep the queue position)
-- Returns 0, or the SMPP status: 0x0C ESME_RINVMSGID (not a message of this account),
-- 0x11 ESME_RCANCELFAIL / 0x13 ESME_RREPLACEFAIL (in flight, sent, final or dead-lettered).
local now, action, acct, id = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local mkey = K.message(id)
local f = redis.call('HMGET', mkey, 'a', 's', 'p', 'pr')
if f[1] ~= acct then return 0x0C end
local fail = 0x13
if action == 'cancel' then fail = 0x11 end
local s, p = tonumber(f[2]), f[3]
if s == nil or FINAL[s] or s == ENROUTE or not p or redis.call('HEXISTS', K.inflight(p), id) == 1 then
  return fail
end
local queued = redis.call('ZSCORE', K.ready(p), id) or redis.call('ZSCORE', K.delayed(p), id)
if not queued then return fail end

if action == 'cancel' then
  redis.call('ZREM', K.ready(p), id)
  redis.call('ZREM', K.delayed(p), id)
  finalize(id, 4, 0, now)
  return 0
end

redis.call('HSET', mkey, 'd', ARGV[5], 't', ARGV[6])
if redis.call('HEXISTS', mkey, 'ad') == 1 then archive_changed(id) end
if ARGV[7] ~= '' then
  if tonumber(ARGV[7]) > 0 then redis.call('HSET', mkey, 'x', ARGV[7]) else redis.call('HDEL', mkey, 'x') end
end
if ARGV[8] ~= '' then redis.call('HSET', mkey, 'r', ARGV[8]) end
if ARGV[9] ~= '' then
  local woken = {}
  redis.call('ZREM', K.ready(p), id)
  redis.call('ZREM', K.delayed(p), id)
  enqueue(id, p, f[4], tonumber(ARGV[9]), now, woken)
  wake(woken)
end
return 0
