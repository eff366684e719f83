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
-- What a receipt reads of its message: a final state's fields, the parts sent and
-- delivered, and what a DLR carries (most receipts end in one).
local RECEIPT_FIELDS = {'s', 'h', 'ad', 'r', 'a', 'o', 'dl', 'u', 'dn', 'd', 't', 'rx'}

-- The parts a message was sent in: its upstream ids ('u', space separated).
local function parts_sent(u)
  if u and u ~= '' and not string.find(u, ' ', 1, true) then return 1 end
  return #split(u, ' ')
end

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
    local f = read_fields(mkey, RECEIPT_FIELDS)
    local s = tonumber(f.s)
    if s ~= nil and not FINAL[s] then
      if r[6] ~= '' then
        redis.call('HSET', mkey, 'rx', r[6])
        f.rx = r[6]
      end
      if state == DELIVERED then
        local delivered = (tonumber(f.dn) or 0) + 1  -- a final message needs no count
        if delivered >= parts_sent(f.u) then finalize_fields(id, mkey, f, state, err, at)
        else redis.call('HSET', mkey, 'dn', small(delivered)) end
      elseif FINAL[state] then
        finalize_fields(id, mkey, f, state, err, at)
      elseif s ~= state then
        set_state(mkey, id, state, at, f.h, f.ad)
        dlr_if_wanted(id, mkey, state, err, at, f)
      end
    end
  end
end
return table.concat(out, ',')
