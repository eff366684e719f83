-- Take up to N ready messages of a provider into flight for an owner with a live lease.
-- ARGV: now, owner, provider, n.  Returns false if the owner's lease is gone (it was
-- reaped: renew first), else msgpack [{id, blob, text, attempts, route index}, ...].
-- Messages whose validity has passed become EXPIRED here instead of being handed out.
local now, owner, p, n = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local lease = tonumber(redis.call('ZSCORE', K.LEASES, owner))
if lease == nil or lease < now then return false end
local ids = redis.call('ZRANGE', K.ready(p), 0, n - 1)
local out = {}
if #ids == 0 then return cmsgpack.pack(out) end
redis.call('ZREM', K.ready(p), unpack(ids))
local held = {}
for _, id in ipairs(ids) do
  local mkey = K.message(id)
  local f = redis.call('HMGET', mkey, 's', 'x', 'd', 't', 'n', 'ri')
  local s, x = tonumber(f[1]), tonumber(f[2]) or 0
  if s == nil or FINAL[s] then
    -- deleted or already final (cancelled): nothing to send
  elseif x > 0 and x <= now then
    finalize(id, EXPIRED, 0, now)
  else
    held[#held + 1] = id
    held[#held + 1] = owner
    out[#out + 1] = {id, f[3], f[4] or '', tonumber(f[5]) or 0, tonumber(f[6]) or 0}
  end
end
if #held > 0 then redis.call('HSET', K.inflight(p), unpack(held)) end
return cmsgpack.pack(out)
