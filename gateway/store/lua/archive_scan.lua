-- One step of an archive search over one day (gateway/archive/query.py).
-- ARGV: day, order ('desc' | 'asc'), max and min (ZRANGEBYLEX bounds of the period or
-- the continuation), limit (matches wanted), budget (index entries to examine at most),
-- local only ('1': skip records pulled from other nodes), msgpack filter groups
-- [[field, {values}], ...]: a member matches a group when it is in the index of any of
-- its values (for a field written '-d', when it is in none of them; the origin value ''
-- stands for this gateway's own messages, those without '@'), and must match every group.
-- State ('s') and channel ('c') have no index (common.lua, archive_keys): they are
-- checked on the message itself.
-- The index walked is the smallest single-value group's (or the day's full index), so
-- the work is bounded by the narrowest filter, not by the size of the archive.
-- Returns {exhausted (0/1), last member examined, examined, matched, member...}.
local day, desc, max, min = ARGV[1], ARGV[2] == 'desc', ARGV[3], ARGV[4]
local limit, budget, local_only = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local groups = cmsgpack.unpack(ARGV[8])

-- Groups checked by index membership ({keys, negative, locals: origin '' asked}) and
-- groups checked on the message itself ({field, set of values, negative}).
local UNINDEXED = {s = true, c = true}
local driver, driver_group = K.archive_all(day), nil
local best = redis.call('ZLEXCOUNT', driver, min, max)
local indexed, fields = {}, {}
for _, group in ipairs(groups) do
  local field, negative = group[1], string.sub(group[1], 1, 1) == '-'
  if negative then field = string.sub(field, 2) end
  if UNINDEXED[field] then
    local wanted = {}
    for _, value in ipairs(group[2]) do wanted[tostring(value)] = true end
    fields[#fields + 1] = {field, wanted, negative}
  else
    local check = {keys = {}, negative = negative, locals = false}
    for _, value in ipairs(group[2]) do
      if field == 'o' and value == '' then check.locals = true
      else check.keys[#check.keys + 1] = K.archive_by(day, field, value) end
    end
    indexed[#indexed + 1] = check
    if #check.keys == 1 and not negative and not check.locals then
      local n = redis.call('ZLEXCOUNT', check.keys[1], min, max)
      if n < best then driver, driver_group, best = check.keys[1], check, n end
    end
  end
end
if best == 0 then return {1, '', 0, 0} end

local function in_any(check, member)
  if check.locals and not string.find(member, '@', 1, true) then return true end
  for _, key in ipairs(check.keys) do
    if redis.call('ZSCORE', key, member) then return true end
  end
  return false
end

-- The values of the unindexed fields of a member: state, and channel (from the blob).
local function field_values(member)
  local f = redis.call('HMGET', K.message(member), 's', 'd')
  local values = {s = f[1] or ''}
  for _, check in ipairs(fields) do
    if check[1] == 'c' then values.c = blob_fields(f[2] or '').channel or '' end
  end
  return values
end

local function matches(member)
  if local_only and string.find(member, '@', 1, true) then return false end
  for _, check in ipairs(indexed) do
    if check ~= driver_group and in_any(check, member) == check.negative then return false end
  end
  if #fields > 0 then
    local values = field_values(member)
    for _, check in ipairs(fields) do
      if (check[2][values[check[1]]] == true) == check[3] then return false end
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
