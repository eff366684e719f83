-- Apply delivery receipts from providers.  ARGV: now, msgpack
-- [{provider, upstream id, state, error code, at (ms), extra, last try (0/1)}, ...], extra being
-- '' or packed receipt fields (an HLR result) kept in the message's 'rx' field and carried by
-- its DLR report.  Returns, per receipt,
-- our message id, or '' when the upstream id is not (or no longer) mapped.
-- A message sent in several parts is DELIVERED when every part is; any other final
-- state of a part is final for the message.  Repeated receipts change nothing.
local now = tonumber(ARGV[1])
local receipts = cmsgpack.unpack(ARGV[2])
local out = {}
for i, r in ipairs(receipts) do
  local p, uid, state, err, at = r[1], r[2], r[3], r[4], r[5]
  local id = redis.call('GET', K.upstream(p, uid))
  out[i] = ''
  if not id then
    if r[7] == 1 then
      redis.call('LPUSH', K.UNMATCHED_RECEIPTS, cmsgpack.pack(r))
      redis.call('LTRIM', K.UNMATCHED_RECEIPTS, 0, 9999)
    end
  else
    out[i] = id
    local mkey = K.message(id)
    local s = tonumber(redis.call('HGET', mkey, 's'))
    if s ~= nil and not FINAL[s] then
      if r[6] ~= '' then redis.call('HSET', mkey, 'rx', r[6]) end
      if state == DELIVERED then
        local parts = #split(redis.call('HGET', mkey, 'u'), ' ')
        if redis.call('HINCRBY', mkey, 'dn', 1) >= parts then finalize(id, state, err, at) end
      elseif FINAL[state] then
        finalize(id, state, err, at)
      elseif s ~= state then
        add_history(mkey, state, at)
        dlr_if_wanted(id, mkey, state, err, at)
      end
    end
  end
end
return table.concat(out, ',')
