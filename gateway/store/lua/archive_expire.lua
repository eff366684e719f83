-- Retention (gateway/archive/retention.py): delete archived messages of days before
-- ARGV[1] (days since the epoch) that are final (or records pulled from other nodes),
-- with their index entries (also those of earlier versions' index keys: common.lua,
-- archive_legacy_keys); messages still on their way are kept.
-- ARGV: cutoff day, continue after this member ('' from the start), examine at most.
-- Returns {deleted, examined, member to continue after ('' when done)}.
local cutoff, after, limit = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local start_day = nil
if after ~= '' then start_day = archive_day(after) end

local function unfile(key, entry) redis.call('ZREM', key, entry) end

local function forget(day, member)
  local mkey = K.message(member)
  local f = redis.call('HMGET', mkey, 's', 'd', 'ao')
  local s = tonumber(f[1])
  if s ~= nil and not FINAL[s] and not f[3] then return false end
  if f[2] then
    local d, fields = day_keys(tonumber(day)), blob_fields(f[2])
    archive_entries(d, fields, f[3] or nil, member, unfile)
    for _, key in ipairs(archive_legacy_keys(d, fields, s)) do redis.call('ZREM', key, member) end
  else
    redis.call('ZREM', K.archive_all(day), member)
  end
  redis.call('DEL', mkey)
  redis.call('ZREM', K.ARCHIVE_CHANGES, member)
  return true
end

local deleted, examined = 0, 0
local days = redis.call('ZRANGEBYSCORE', K.ARCHIVE_DAYS, '-inf', '(' .. cutoff)
for _, day in ipairs(days) do
  if start_day == nil or tonumber(day) >= start_day then
    local min = '-'
    if start_day ~= nil and tonumber(day) == start_day then min = '(' .. after end
    while examined < limit do
      local batch = redis.call('ZRANGEBYLEX', K.archive_all(day), min, '+', 'LIMIT', 0, limit - examined)
      if #batch == 0 then break end
      for _, member in ipairs(batch) do
        examined = examined + 1
        if forget(day, member) then deleted = deleted + 1 end
        min = '(' .. member
      end
    end
    if redis.call('ZCARD', K.archive_all(day)) == 0 then
      redis.call('ZREM', K.ARCHIVE_DAYS, day)
      -- with entries left in its number index (retention by earlier versions leaves them)
      redis.call('DEL', K.archive_numbers(day))
    end
    if examined >= limit then return {deleted, examined, string.sub(min, 2)} end
  end
end
return {deleted, examined, ''}
