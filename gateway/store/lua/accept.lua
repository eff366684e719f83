-- Accept a batch of messages: check and reserve the account rules, write, enqueue.
-- ARGV[1] now (ms); ARGV[2] msgpack array of messages, each
--   {id, account, provider, priority, due, expiry, registered_delivery, route,
--    text, blob, throughput limit, dedup window (ms), cost (millionths), destination, source
--    [, lease owner]}
-- A message with a lease owner (the local dispatcher has room for it: gateway/store/
-- accept.py, gateway/dispatch.py) skips its provider's queue if that is empty and the
-- owner's lease is live: it is filed in flight under the owner, to be sent without a
-- take, and reaped like a taken one if the owner dies.  Else it is queued.
-- Returns the statuses, comma separated, in batch order (0 = accepted and queued,
-- d = accepted in flight under its lease owner).
local now = tonumber(ARGV[1])
local batch = cmsgpack.unpack(ARGV[2])
local ctx, woken, out = new_ctx(), {}, {}

local leases, waiting = {}, {}
local function lease_live(owner)
  if leases[owner] == nil then
    local expiry = tonumber(redis.call('ZSCORE', K.LEASES, owner))
    leases[owner] = expiry ~= nil and expiry >= now
  end
  return leases[owner]
end

-- Whether messages wait in the provider's ready queue (a new one must not overtake them):
-- in Redis when the run began, or queued by the run (woken).
local function queue_waits(p)
  if waiting[p] == nil then waiting[p] = redis.call('EXISTS', K.ready(p)) == 1 end
  return waiting[p] or woken[p] == true
end

for i, m in ipairs(batch) do
  local status = admit(ctx, now, m[2], m[11], m[12], m[13], m[14], m[9])
  if status ~= 0 then
    out[i] = small(status)
  elseif m[16] and m[5] <= now and not queue_waits(m[3]) and lease_live(m[16]) then
    store_message(now, m, woken, m[16])
    out[i] = 'd'
  else
    store_message(now, m, woken)
    out[i] = '0'
  end
end
commit(ctx, now)
wake(woken)
return table.concat(out, ',')
