-- Accept a batch of messages: check and reserve the account rules, write, enqueue.
-- ARGV[1] now (ms); ARGV[2] msgpack array of messages, each
--   {id, account, provider, priority, due, expiry, registered_delivery, route,
--    text, blob, throughput limit, dedup window (ms), cost (millionths), destination, source}
-- Returns the statuses, comma separated, in batch order (0 = accepted).
local now = tonumber(ARGV[1])
local batch = cmsgpack.unpack(ARGV[2])
local ctx, woken, out = new_ctx(), {}, {}
for i, m in ipairs(batch) do
  local status = admit(ctx, now, m[2], m[11], m[12], m[13], m[14], m[9])
  if status == 0 then store_message(now, m, woken) end
  out[i] = status
end
commit(ctx, now)
wake(woken)
return table.concat(out, ',')
