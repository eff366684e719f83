-- One step of an archive search over one day (gateway/archive/query.py).
-- ARGV: day, order ('desc' | 'asc'), max and min (ZRANGEBYLEX bounds of the period or
-- the continuation), limit (matches wanted), budget (index entries to examine at most),
-- local only ('1': skip records pulled from other nodes), msgpack filter groups
-- [[field, {values}], ...]: a member matches a group when it is in the index of any of
-- its values (for a field written '-d', when it is in none of them; the origin value ''
-- stands for this gateway's own messages, those without '@'), and must match every group.
-- State ('s') and channel ('c') have no index (common.lua, archive_entries): they are
-- checked on the message itself.
-- The index walked is the smallest single-value group's (or the day's full index), so
-- the work is bounded by the narrowest filter, not by the size of the archive.
-- Returns {exhausted (0/1), last member examined, examined, matched, member...}.
local day, desc, max, min = ARGV[1], ARGV[2] == 'desc', ARGV[3], ARGV[4]
local limit, budget, local_only = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local groups = cmsgpack.unpack(ARGV[8])

-- The index of one value is read through its sources: a key, and the prefix its entries
-- carry before the archive member ('' but in the day's number index: common.lua,
-- archive_numbers).  A number has two: that index, and the key of its own that earlier
-- versions filed it in, read as long as that key exists, so that a day they wrote to is
-- searched whole.
local function plain(key) return {key = key, prefix = ''} end

local function number_sources(value)
  local prefix = K.archive_number_entry(value, '')
  -- the entries of a number are those from its prefix to the prefix ending in ';' (':' + 1)
  local out = {{key = K.archive_numbers(day), prefix = prefix, top = '(' .. string.sub(prefix, 1, -2) .. ';'}}
  local old = K.archive_by(day, 'n', value)
  if redis.call('EXISTS', old) == 1 then out[2] = plain(old) end
  return out
end

-- A source's ZRANGEBYLEX bounds for bounds over members ('-', '+', '[member', '(member').
local function low_of(src, bound)
  if src.prefix == '' then return bound end
  if bound == '-' then return '[' .. src.prefix end
  return string.sub(bound, 1, 1) .. src.prefix .. string.sub(bound, 2)
end

local function high_of(src, bound)
  if src.prefix == '' then return bound end
  if bound == '+' then return src.top end
  return string.sub(bound, 1, 1) .. src.prefix .. string.sub(bound, 2)
end

-- Entries of the sources within the period (each source keeps its own count).
local function count(sources)
  local n = 0
  for _, src in ipairs(sources) do
    src.count = redis.call('ZLEXCOUNT', src.key, low_of(src, min), high_of(src, max))
    n = n + src.count
  end
  return n
end

-- Groups checked by index membership ({sources, negative, locals: origin '' asked}) and
-- groups checked on the message itself ({field, set of values, negative}).
local UNINDEXED = {s = true, c = true}
local driver, driver_group = {plain(K.archive_all(day))}, nil
local best = count(driver)
local indexed, fields = {}, {}
for _, group in ipairs(groups) do
  local field, negative = group[1], string.sub(group[1], 1, 1) == '-'
  if negative then field = string.sub(field, 2) end
  if UNINDEXED[field] then
    local wanted = {}
    for _, value in ipairs(group[2]) do wanted[tostring(value)] = true end
    fields[#fields + 1] = {field, wanted, negative}
  else
    local check = {sources = {}, negative = negative, locals = false}
    for _, value in ipairs(group[2]) do
      if field == 'o' and value == '' then
        check.locals = true
      elseif field == 'n' then
        for _, src in ipairs(number_sources(value)) do check.sources[#check.sources + 1] = src end
      else
        check.sources[#check.sources + 1] = plain(K.archive_by(day, field, value))
      end
    end
    indexed[#indexed + 1] = check
    if #group[2] == 1 and not negative and not check.locals then
      local n = count(check.sources)
      if n < best then driver, driver_group, best = check.sources, check, n end
    end
  end
end
if best == 0 then return {1, '', 0, 0} end

local function in_any(check, member)
  if check.locals and not string.find(member, '@', 1, true) then return true end
  for _, src in ipairs(check.sources) do
    if redis.call('ZSCORE', src.key, src.prefix .. member) then return true end
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

-- The driver's sources with entries in the period, walked together in member order.
local walked = {}
for _, src in ipairs(driver) do
  if src.count > 0 then walked[#walked + 1] = src end
end

-- Up to n members of a source from the current bounds, in walk order.
local function fetch(src, n)
  local batch
  if desc then
    batch = redis.call('ZREVRANGEBYLEX', src.key, high_of(src, max), low_of(src, min), 'LIMIT', 0, n)
  else
    batch = redis.call('ZRANGEBYLEX', src.key, low_of(src, min), high_of(src, max), 'LIMIT', 0, n)
  end
  if src.prefix ~= '' then
    local skip = #src.prefix + 1
    for i, entry in ipairs(batch) do batch[i] = string.sub(entry, skip) end
  end
  return batch
end

-- Whether member a comes before b in walk order: by bytes, as Redis orders them (Lua's <
-- on strings follows the server's locale).
local function before(a, b)
  if desc then a, b = b, a end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- The next n members of the walk, and whether more may follow them.
local function next_batch(n)
  if #walked == 1 then
    local batch = fetch(walked[1], n)
    return batch, #batch == n
  end
  local lists, heads, more = {}, {}, false
  for i, src in ipairs(walked) do
    lists[i], heads[i] = fetch(src, n), 1
    if #lists[i] == n then more = true end
  end
  local out = {}
  while #out < n do
    local pick
    for i, list in ipairs(lists) do
      local m = list[heads[i]]
      if m ~= nil and (pick == nil or before(m, pick)) then pick = m end
    end
    if pick == nil then break end
    for i, list in ipairs(lists) do  -- a member filed in two sources is walked once
      if list[heads[i]] == pick then heads[i] = heads[i] + 1 end
    end
    out[#out + 1] = pick
  end
  for i, list in ipairs(lists) do
    if list[heads[i]] ~= nil then more = true end
  end
  return out, more
end

local found, examined, last, exhausted = {}, 0, '', false
while examined < budget and #found < limit and not exhausted do
  local n = math.min(budget - examined, 500)
  local batch, more = next_batch(n)
  local seen = 0
  for _, member in ipairs(batch) do
    examined, last, seen = examined + 1, member, seen + 1
    if matches(member) then
      found[#found + 1] = member
      if #found >= limit then break end
    end
  end
  exhausted = not more and seen == #batch
  if desc then max = '(' .. last else min = '(' .. last end
end
local out = {exhausted and 1 or 0, last, examined, #found}
for _, member in ipairs(found) do out[#out + 1] = member end
return out
