-- Store records pulled from another node's archive (gateway/sync).  ARGV: origin (the
-- node's name here), msgpack [{id, blob, text, state, history, provider, error, comment}].
-- Each is kept as K.message(id .. '@' .. origin) and filed like a local message, without
-- going on the local change feed.  A record seen before is only brought up to date.
-- Returns {added, updated}.
local origin = ARGV[1]
local records = cmsgpack.unpack(ARGV[2])
local added, updated = 0, 0
for _, r in ipairs(records) do
  local member = r[1] .. '@' .. origin
  local mkey = K.message(member)
  local cur = redis.call('HMGET', mkey, 's', 'h')
  local state = tonumber(r[4])
  if not cur[1] then
    redis.call('HSET', mkey, 'd', r[2], 't', r[3], 's', state, 'h', r[5], 'p', r[6], 'e', r[7], 'ao', origin,
               'ad', archive_day_field(member))
    if r[8] ~= '' then redis.call('HSET', mkey, 'c', r[8]) end
    archive_add(member, r[2], origin)
    added = added + 1
  elseif cur[2] ~= r[5] or tonumber(cur[1]) ~= state then
    redis.call('HSET', mkey, 's', state, 'h', r[5], 'p', r[6], 'e', r[7])
    updated = updated + 1
  end
end
return {added, updated}
