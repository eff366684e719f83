-- Shared by every script (after keys.LUA).  States are SMPP message_state values.
local ENROUTE, DELIVERED, EXPIRED, UNDELIVERABLE, ACCEPTED, REJECTED = 1, 2, 3, 5, 6, 8
local FINAL = {[2] = true, [3] = true, [4] = true, [5] = true, [8] = true}

-- Queue order: higher priority first, then earlier first (ms < 1e13 until year 2286).
local function score(prio, ms)
  prio = math.max(0, math.min(9, tonumber(prio) or 0))
  return (9 - prio) * 1e13 + ms
end

local function add_history(mkey, state, now)
  local h = redis.call('HGET', mkey, 'h') or ''
  redis.call('HSET', mkey, 's', state, 'h', h .. ' ' .. state .. '@' .. now)
end

-- registered_delivery (SMPP 3.4 5.2.17): bits 0-1 final receipt (1 any, 2 failure,
-- 3 success - SMPP 5.0), bit 4 intermediate notifications.
local function wants_dlr(rd, state)
  rd = tonumber(rd) or 0
  if not FINAL[state] then return rd % 32 >= 16 end
  local final = rd % 4
  if final == 1 then return true end
  if final == 2 then return state ~= DELIVERED end
  if final == 3 then return state == DELIVERED end
  return false
end

-- A report for the account's client (DLR or MO); kept until taken and acknowledged.
local function push_report(acct, kind, id, state, err, now, blob, text)
  local rid = 'r' .. redis.call('INCR', K.OUTBOX_SEQ)
  local report = cmsgpack.pack({kind, rid, id, state, err, now, blob, text})
  redis.call('HSET', K.outbox_items(acct), rid, report)
  redis.call('ZADD', K.outbox_ready(acct), now, rid)
  redis.call('SADD', K.OUTBOX_ACCOUNTS, acct)
  redis.call('PUBLISH', K.outbox_wake(acct), rid)
  return rid
end

local function dlr_if_wanted(id, mkey, state, err, now)
  local f = redis.call('HMGET', mkey, 'r', 'a', 'd', 't')
  if wants_dlr(f[1], state) then
    push_report(f[2], 'dlr', id, state, err, now, f[3], f[4] or '')
  end
end

-- Move a message to a final state (no-op if it already is in one).
local function finalize(id, state, err, now)
  local mkey = K.message(id)
  local cur = tonumber(redis.call('HGET', mkey, 's'))
  if cur == nil or FINAL[cur] then return false end
  add_history(mkey, state, now)
  redis.call('HSET', mkey, 'e', err)
  redis.call('HDEL', mkey, 'o', 'dl')
  dlr_if_wanted(id, mkey, state, err, now)
  return true
end

-- Put a message on a provider's queue: ready now, or delayed until due.
local function enqueue(id, provider, prio, due, now, woken)
  if due > now then
    redis.call('ZADD', K.delayed(provider), due, id)
  else
    redis.call('ZADD', K.ready(provider), score(prio, now), id)
    if woken then woken[provider] = true end
  end
end

local function wake(woken)
  for p in pairs(woken) do
    redis.call('SADD', K.PROVIDERS, p)
    redis.call('PUBLISH', K.queue_wake(p), '1')
  end
end

-- Expired validity: final EXPIRED (with a DLR if asked).
local function expired(mkey, now)
  local x = tonumber(redis.call('HGET', mkey, 'x')) or 0
  return x > 0 and x <= now
end

local function split(s, sep)
  local out = {}
  for part in string.gmatch(s or '', '([^' .. sep .. ']+)') do out[#out + 1] = part end
  return out
end

-- Account rules checked atomically with the write: throughput, dedup, balance.
-- ctx caches per-account counters for one batch; commit() writes them once.
local function new_ctx() return {tp = {}, tp_added = {}, bal = {}, spent = {}} end

local function admit(ctx, now, acct, tp, dd, cost, dst, text)
  if tp > 0 then
    if ctx.tp[acct] == nil then
      ctx.tp[acct] = tonumber(redis.call('GET', K.throughput(acct, math.floor(now / 1000)))) or 0
    end
    if ctx.tp[acct] >= tp then return 0x58 end
  end
  local ddkey
  if dd > 0 then
    ddkey = K.dedup(acct, redis.sha1hex(dst .. '\0' .. text))
    if redis.call('EXISTS', ddkey) == 1 then return 0x453 end
  end
  if cost > 0 then
    if ctx.bal[acct] == nil then
      ctx.bal[acct] = tonumber(redis.call('GET', K.balance(acct)) or '-1')
      ctx.spent[acct] = 0
    end
    if ctx.bal[acct] >= 0 and ctx.bal[acct] - ctx.spent[acct] < cost then return 0x433 end
    ctx.spent[acct] = ctx.spent[acct] + cost
  end
  if tp > 0 then
    ctx.tp[acct] = ctx.tp[acct] + 1
    ctx.tp_added[acct] = (ctx.tp_added[acct] or 0) + 1
  end
  if ddkey then redis.call('SET', ddkey, '1', 'PX', dd) end
  return 0
end

local function commit(ctx, now)
  local sec = math.floor(now / 1000)
  for acct, n in pairs(ctx.tp_added) do
    local k = K.throughput(acct, sec)
    redis.call('INCRBY', k, n)
    redis.call('PEXPIRE', k, 2000)
  end
  for acct, spent in pairs(ctx.spent) do
    if ctx.bal[acct] >= 0 and spent > 0 then redis.call('DECRBY', K.balance(acct), spent) end
  end
end

-- Write a new message hash (state ACCEPTED) and queue it on the route's first provider.
local function store_message(now, m, woken)
  -- m: id, account, provider, priority, due, expiry, rd, route, text, blob
  local id = m[1]
  local fields = {'d', m[10], 't', m[9], 's', ACCEPTED, 'h', ACCEPTED .. '@' .. now,
                  'p', m[3], 'rt', m[8], 'a', m[2], 'pr', m[4]}
  if m[6] > 0 then fields[#fields + 1] = 'x'; fields[#fields + 1] = m[6] end
  if m[7] > 0 then fields[#fields + 1] = 'r'; fields[#fields + 1] = m[7] end
  redis.call('HSET', K.message(id), unpack(fields))
  enqueue(id, m[3], m[4], m[5], now, woken)
end

-- Keep a message that was refused after some of it was acknowledged (a multipart
-- message): final REJECTED with the status as error code, DLR if asked.
local function store_rejected(now, m, status)
  local id = m[1]
  local mkey = K.message(id)
  redis.call('HSET', mkey, 'd', m[10], 't', m[9], 's', REJECTED, 'h', REJECTED .. '@' .. now,
             'p', m[3], 'rt', m[8], 'a', m[2], 'pr', m[4], 'r', m[7], 'e', status)
  dlr_if_wanted(id, mkey, REJECTED, status, now)
end

-- The parts of a multipart message in order ('' for a missing one), its ~~~ comment split off.
local function assemble(mk, total)
  local parts = {}
  for i = 1, total do parts[i] = redis.call('HGET', mk, 'p' .. i) or '' end
  local text = table.concat(parts)
  local at = string.find(text, '\n~~~\n', 1, true)
  if at then return string.sub(text, 1, at - 1), string.sub(text, at + 5) end
  return text, ''
end
