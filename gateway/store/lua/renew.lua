-- Renew an owner's lease.  ARGV: now, owner, lease (ms).
-- Returns 1 if the lease was still held, 0 if it had lapsed or been reaped.
local now, owner, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local old = tonumber(redis.call('ZSCORE', K.LEASES, owner))
redis.call('ZADD', K.LEASES, now + lease, owner)
if old ~= nil and old >= now then return 1 end
return 0
