-- Cancel or replace messages of an account while they still wait in a queue.
-- ARGV: now, action, account, then for
--   cancel   id, check ('1': the addresses must match), source, destination ('' for any)
--                                       → DELETED (with a DLR if asked), off the queue
--   replace  id, blob, text, expiry ms or '' (keep), registered_delivery or '' (keep),
--            due ms or '' (keep the queue position)
--   cancel_matching  source, destination, service_type ('' for any), limit, budget
-- cancel and replace return 0, or the SMPP status: 0x0C ESME_RINVMSGID (not a message of
-- this account), 0x11 ESME_RCANCELFAIL / 0x13 ESME_RREPLACEFAIL (in flight, sent, final or
-- dead-lettered; for cancel also addresses that do not match the message's).
-- cancel_matching returns {cancelled, index entries examined, 1 if it went through them all}.
local now, action, acct = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local DELETED = 4

-- Whether message id (state s, provider p) waits in its provider's queue: not taken by a
-- dispatcher, sent, final or dead-lettered (a dead-lettered message is in no queue).
local function waiting(id, s, p)
  if s == nil or FINAL[s] or s == ENROUTE or not p or redis.call('HEXISTS', K.inflight(p), id) == 1 then
    return false
  end
  if redis.call('ZSCORE', K.ready(p), id) then return true end
  return redis.call('ZSCORE', K.delayed(p), id) ~= false
end

local function cancel(id, p)
  redis.call('ZREM', K.ready(p), id)
  redis.call('ZREM', K.delayed(p), id)
  finalize(id, DELETED, 0, now)
end

-- SMPP addresses are compared as the archive files numbers: without a leading '+'.
local function same_address(a, b) return archive_number(a or '') == archive_number(b or '') end

-- cancel_sm without message_id (SMPP 3.4 section 4.9): every waiting MT message of the
-- account from source to destination (and of service_type, if given; kept in the blob's
-- extra as 'svc').  Candidates come from the archive's number index (common.lua,
-- archive_entries) of every day that still has archived messages, newest first:
-- retention keeps a day's entries while any of its messages is on its way, and neither
-- schedule_delivery_time nor validity_period has an upper bound, so no shorter horizon
-- would find them all.  Each day the number with fewer entries is walked, from the day's
-- number index and the per-number key of earlier versions (as archive_scan.lua reads
-- them).  At most limit messages are cancelled and budget entries examined.
local function cancel_matching(src, dst, svc, limit, budget)
  local cancelled, examined = 0, 0
  local want_src, want_dst = archive_number(src), archive_number(dst)

  -- The index sources of a number on a day, each with its count of entries.
  local function sources(day, number)
    local prefix = K.archive_number_entry(number, '')
    -- a number's entries run from its prefix to the prefix ending in ';' (':' + 1)
    local out = {{key = K.archive_numbers(day), low = '[' .. prefix,
                  high = '(' .. string.sub(prefix, 1, -2) .. ';', cut = #prefix + 1}}
    local old = K.archive_by(day, 'n', number)
    if redis.call('EXISTS', old) == 1 then out[2] = {key = old, low = '-', high = '+', cut = 1} end
    local n = 0
    for _, s in ipairs(out) do
      s.count = redis.call('ZLEXCOUNT', s.key, s.low, s.high)
      n = n + s.count
    end
    return out, n
  end

  -- The provider of member if it is one to cancel, else nil.
  local function match(member)
    local f = redis.call('HMGET', K.message(member), 'a', 's', 'p', 'd')
    local s = tonumber(f[2])
    if f[1] ~= acct or s == nil or FINAL[s] or s == ENROUTE then return nil end
    local b = blob_fields(f[4])
    if b.direction ~= 'MT' or archive_number(b.destination or '') ~= want_dst
        or archive_number(b.source or '') ~= want_src then
      return nil
    end
    if svc ~= '' and blob_extra(f[4], 'svc') ~= svc then return nil end
    if not waiting(member, s, f[3]) then return nil end
    return f[3]
  end

  -- Walks one source; false once the limit or the budget is reached.
  local function walk(src_index, seen)
    local low = src_index.low
    while true do
      if cancelled >= limit or examined >= budget then return false end
      local batch = redis.call('ZRANGEBYLEX', src_index.key, low, src_index.high, 'LIMIT', 0,
                               math.min(500, budget - examined))
      if #batch == 0 then return true end
      for _, entry in ipairs(batch) do
        examined = examined + 1
        low = '(' .. entry
        local member = string.sub(entry, src_index.cut)
        -- records pulled from other nodes ('@') are never in this node's queues
        if not seen[member] and not string.find(member, '@', 1, true) then
          seen[member] = true
          local p = match(member)
          if p then
            cancel(member, p)
            cancelled = cancelled + 1
            if cancelled >= limit then return false end
          end
        end
      end
      if examined >= budget then return false end
    end
  end

  local days = redis.call('ZREVRANGEBYSCORE', K.ARCHIVE_DAYS, '+inf', '-inf')
  for _, day in ipairs(days) do
    local walked, n = sources(day, want_dst)
    if want_src ~= '' and want_src ~= want_dst then
      local by_src, m = sources(day, want_src)
      if m < n then walked, n = by_src, m end
    end
    if n > 0 then
      local seen = {}
      for _, s in ipairs(walked) do
        if s.count > 0 and not walk(s, seen) then return {cancelled, examined, 0} end
      end
    end
  end
  return {cancelled, examined, 1}
end

if action == 'cancel_matching' then
  return cancel_matching(ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]))
end

local id = ARGV[4]
local mkey = K.message(id)
local f = redis.call('HMGET', mkey, 'a', 's', 'p', 'pr')
if f[1] ~= acct then return 0x0C end
local fail = 0x13
if action == 'cancel' then fail = 0x11 end
local p = f[3]
if not waiting(id, tonumber(f[2]), p) then return fail end

if action == 'cancel' then
  if ARGV[5] == '1' then
    -- SMPP 3.4 section 4.9.1: source_addr must match the message's; destination_addr too
    -- when given
    local b = blob_fields(redis.call('HGET', mkey, 'd'))
    if not same_address(b.source, ARGV[6]) or (ARGV[7] ~= '' and not same_address(b.destination, ARGV[7])) then
      return fail
    end
  end
  cancel(id, p)
  return 0
end

redis.call('HSET', mkey, 'd', ARGV[5], 't', ARGV[6])
if redis.call('HEXISTS', mkey, 'ad') == 1 then archive_changed(id) end
if ARGV[7] ~= '' then
  if tonumber(ARGV[7]) > 0 then redis.call('HSET', mkey, 'x', ARGV[7]) else redis.call('HDEL', mkey, 'x') end
end
if ARGV[8] ~= '' then redis.call('HSET', mkey, 'r', ARGV[8]) end
if ARGV[9] ~= '' then
  local woken = {}
  redis.call('ZREM', K.ready(p), id)
  redis.call('ZREM', K.delayed(p), id)
  enqueue(id, p, f[4], tonumber(ARGV[9]), now, woken)
  wake(woken)
end
return 0
