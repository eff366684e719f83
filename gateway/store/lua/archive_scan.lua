-- One step of an archive search over one day (gateway/archive/query.py).
-- ARGV: day, order ('desc' | 'asc'), max and min (ZRANGEBYLEX bounds of the period or
-- the continuation), limit (matches wanted), budget (index entries to examine at most),
-- local only ('1': skip records pulled from other nodes), msgpack filter groups
-- [[field, {values}], ...]: a member matches a group when it is in the index of any of
-- its values (for a field written '-d', when it is in none of them; the origin value ''
-- stands for this gateway's own messages, those without '@'), and must match every group.
-- The index walked is the smallest single-value group's (or the day's full index), so
-- the work is bounded by the narrowest filter, not by the size of the archive.
-- Returns {exhausted (0/1), last member examined, examined, matched, member...}.
local day, desc, max, min = ARGV[1], ARGV[2] == 'desc', ARGV[3], ARGV[4]
local limit, budget, local_only = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local groups = cmsgpack.unpack(ARGV[8])

local driver, driver_group = K.archive_all(day), 0
local best = redis.call('ZLEXCOUNT', driver, min, max)
local checks, negative, locals = {}, {}, {}
for g, group in ipairs(groups) do
  local field = group[1]
  negative[g] = string.sub(field, 1, 1) == '-'
  if negative[g] then field = string.sub(field, 2) end
  local keys = {}
  for _, value in ipairs(group[2]) do
    if field == 'o' and value == '' then locals[g] = true
    else keys[#keys + 1] = K.archive_by(day, field, value) end
  end
  checks[g] = keys
  if #keys == 1 and not negative[g] and not locals[g] then
    local n = redis.call('ZLEXCOUNT', keys[1], min, max)
    if n < best then driver, driver_group, best = keys[1], g, n end
  end
end
if best == 0 then return {1, '', 0, 0} end

local function matches(member)
  if local_only and string.find(member, '@', 1, true) then return false end
  for g, keys in ipairs(checks) do
    if g ~= driver_group then
      local any = locals[g] == true and not string.find(member, '@', 1, true)
      for _, key in ipairs(keys) do
        if any then break end
        if redis.call('ZSCORE', key, member) then any = true; break end
      end
      if any == negative[g] then return false end
    end
  end
  return true
end

local found, examined, last, exhausted = {}, 0, '', false
while examined < budget and #found < limit and not exhausted do
  local n = math.min(budget - examined, 500)
  local batch
  if desc then
    batch = redis.call('ZREVRANGEBYLEX', driver, max, min, 'LIMIT', 0, n)
  else
    batch = redis.call('ZRANGEBYLEX', driver, min, max, 'LIMIT', 0, n)
  end
  local seen = 0
  for _, member in ipairs(batch) do
    examined, last, seen = examined + 1, member, seen + 1
    if matches(member) then
      found[#found + 1] = member
      if #found >= limit then break end
    end
  end
  exhausted = #batch < n and seen == #batch
  if desc then max = '(' .. last else min = '(' .. last end
end
local out = {exhausted and 1 or 0, last, examined, #found}
for _, member in ipairs(found) do out[#out + 1] = member end
return out
