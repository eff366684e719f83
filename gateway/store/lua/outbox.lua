-- The per-account outbox of reports.  ARGV[1] now, ARGV[2] action, then:
--   take    account, n, lease ms      → msgpack [report, ...], leased until now + lease
--   ack     account, report ids...    → number removed for good
--   release account, report ids...    → number put back for another try
--   reclaim                           → number of lapsed leases put back (all accounts)
--   expire  retention ms              → number moved to the undelivered archive
local now, action = tonumber(ARGV[1]), ARGV[2]

local function back_to_ready(acct, rid)
  local report = redis.call('HGET', K.outbox_items(acct), rid)
  redis.call('ZREM', K.outbox_taken(acct), rid)
  if report then
    redis.call('ZADD', K.outbox_ready(acct), cmsgpack.unpack(report)[6], rid)
    return 1
  end
  return 0
end

if action == 'take' then
  local acct, n, lease = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
  local rids = redis.call('ZRANGE', K.outbox_ready(acct), 0, n - 1)
  local out, taken, expiry = {}, {}, int(now + lease)
  if #rids == 0 then return cmsgpack.pack(out) end
  redis.call('ZREM', K.outbox_ready(acct), unpack(rids))
  local reports = redis.call('HMGET', K.outbox_items(acct), unpack(rids))
  for i, rid in ipairs(rids) do
    if reports[i] then
      taken[#taken + 1] = expiry
      taken[#taken + 1] = rid
      out[#out + 1] = reports[i]
    end
  end
  if #taken > 0 then redis.call('ZADD', K.outbox_taken(acct), unpack(taken)) end
  return cmsgpack.pack(out)
elseif action == 'ack' then
  local acct, acked = ARGV[3], {}
  for i = 4, #ARGV do
    if redis.call('ZREM', K.outbox_taken(acct), ARGV[i]) == 1 then acked[#acked + 1] = ARGV[i] end
  end
  if #acked > 0 then redis.call('HDEL', K.outbox_items(acct), unpack(acked)) end
  return #acked
elseif action == 'release' then
  local acct, count = ARGV[3], 0
  for i = 4, #ARGV do
    if redis.call('ZSCORE', K.outbox_taken(acct), ARGV[i]) then
      count = count + back_to_ready(acct, ARGV[i])
    end
  end
  if count > 0 then redis.call('PUBLISH', K.outbox_wake(acct), '') end
  return count
elseif action == 'reclaim' then
  local count = 0
  for _, acct in ipairs(redis.call('SMEMBERS', K.OUTBOX_ACCOUNTS)) do
    local lapsed = redis.call('ZRANGEBYSCORE', K.outbox_taken(acct), '-inf', '(' .. now)
    for _, rid in ipairs(lapsed) do count = count + back_to_ready(acct, rid) end
    if #lapsed > 0 then redis.call('PUBLISH', K.outbox_wake(acct), '') end
  end
  return count
elseif action == 'expire' then
  local cutoff, count = now - tonumber(ARGV[3]), 0
  for _, acct in ipairs(redis.call('SMEMBERS', K.OUTBOX_ACCOUNTS)) do
    for _, rid in ipairs(redis.call('ZRANGEBYSCORE', K.outbox_ready(acct), '-inf', '(' .. cutoff)) do
      local report = redis.call('HGET', K.outbox_items(acct), rid)
      if report then redis.call('RPUSH', K.outbox_undelivered(acct), report) end
      redis.call('HDEL', K.outbox_items(acct), rid)
      redis.call('ZREM', K.outbox_ready(acct), rid)
      count = count + 1
    end
    if redis.call('HLEN', K.outbox_items(acct)) == 0 then redis.call('SREM', K.OUTBOX_ACCOUNTS, acct) end
  end
  return count
end
return redis.error_reply('unknown outbox action ' .. tostring(action))
