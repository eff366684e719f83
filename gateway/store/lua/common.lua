-- Shared by every script (after keys.LUA).  States are SMPP message_state values.
local ENROUTE, DELIVERED, EXPIRED, UNDELIVERABLE, ACCEPTED, REJECTED = 1, 2, 3, 5, 6, 8
local FINAL = {[2] = true, [3] = true, [4] = true, [5] = true, [8] = true}

-- Integers as strings, for command arguments and for building strings.  redis.call
-- formats a number argument with "%.17g", and Lua's .. a number with "%.14g", through the
-- C library's floating-point printing, which costs as much as a small command; '%d' does
-- not.  Small ones (states, days, error codes, counts) are made once per script run.
local function int(n) return string.format('%d', n) end
local small_ints = {}
local function small(n)
  local s = small_ints[n]
  if not s then
    s = string.format('%d', n)
    small_ints[n] = s
  end
  return s
end

-- Additions deferred to the end of the script run (script_done) and grouped into one call
-- per command and key: ZADD (score, member) and HSET (field, value) pairs.  The messages
-- of a batch share most of the keys they are filed under (the day, the account, the
-- change feed, the queue, the account's outbox).  Only for keys the running script never
-- reads or removes from: the archive indexes and change feed, the queues of new messages
-- and the outbox.  Scores and values are given as strings (see int).
local deferred, deferred_order = {}, {}
local function later(command, key, a, b)
  local by_key = deferred[command]
  if not by_key then
    by_key = {}
    deferred[command] = by_key
  end
  local entry = by_key[key]
  if not entry then
    entry = {command, key, {}, 0}
    by_key[key] = entry
    deferred_order[#deferred_order + 1] = entry
  end
  local args, n = entry[3], entry[4]
  args[n + 1], args[n + 2], entry[4] = a, b, n + 2
end

local function zadd_later(key, score, member) later('ZADD', key, score, member) end

local function write_deferred()
  for _, entry in ipairs(deferred_order) do
    local command, key, args, n = entry[1], entry[2], entry[3], entry[4]
    for i = 1, n, 1000 do  -- unpack() has a limit on the values it returns
      redis.call(command, key, unpack(args, i, math.min(i + 999, n)))
    end
  end
  deferred, deferred_order = {}, {}
end

-- Keys made from one value (a provider, an account), made once per script run.
local function once_per_run(make)
  local made = {}
  return function(value)
    local key = made[value]
    if not key then
      key = make(value)
      made[value] = key
    end
    return key
  end
end

-- Archive (gateway/archive): every MT and MO filed in per-day indexes by the same script
-- that writes it, so an acknowledged message is never missing from the archive.  Index
-- members are message ids, which sort by time (9 base-36 digits of the creation ms).
local function archive_day(id)
  local ms = tonumber(string.sub(id, 1, 9), 36)
  if ms == nil or #id < 9 then return nil end
  return math.floor(ms / 86400000)
end

-- A minimal msgpack reader for the leading fields of Message.static_blob (gateway/model.py):
-- cmsgpack here does not know the bin type the blob uses for raw PDU bytes, and only the
-- first seven fields are needed (so the raw bytes after them are never even skipped).
local MP_NUMBER = {[0xcc] = 1, [0xcd] = 2, [0xce] = 4, [0xcf] = 8, [0xd0] = 1, [0xd1] = 2,
                   [0xd2] = 4, [0xd3] = 8, [0xca] = 4, [0xcb] = 8}
local MP_SIZED = {[0xd9] = 1, [0xda] = 2, [0xdb] = 4, [0xc4] = 1, [0xc5] = 2, [0xc6] = 4}
local MP_COUNT = {[0xdc] = 2, [0xdd] = 4, [0xde] = 2, [0xdf] = 4}

local MP_STRING = {[0xd9] = 1, [0xda] = 2, [0xdb] = 4}

local function mp_uint(s, pos, n)
  local v = 0
  for i = pos, pos + n - 1 do v = v * 256 + (string.byte(s, i) or error('truncated')) end
  return v
end

-- The position after the head of the value at pos, and how many values nested in it
-- follow (array elements, map keys and values); nothing is copied.
local function mp_next(s, pos)
  local b = string.byte(s, pos) or error('truncated')
  if b < 0x80 or b >= 0xe0 or b == 0xc0 or b == 0xc2 or b == 0xc3 then return pos + 1, 0 end
  if b >= 0xa0 and b < 0xc0 then return pos + 1 + b - 0xa0, 0 end
  if b < 0x90 then return pos + 1, 2 * (b - 0x80) end
  if b < 0xa0 then return pos + 1, b - 0x90 end
  local size = MP_NUMBER[b]
  if size then return pos + 1 + size, 0 end
  size = MP_SIZED[b]
  if size then return pos + 1 + size + mp_uint(s, pos + 1, size), 0 end
  size = MP_COUNT[b] or error('unexpected msgpack type ' .. b)
  local n = mp_uint(s, pos + 1, size)
  if b >= 0xde then n = 2 * n end
  return pos + 1 + size, n
end

local function mp_skip(s, pos)
  local nxt, nested = mp_next(s, pos)
  for _ = 1, nested do nxt = mp_skip(s, nxt) end
  return nxt
end

-- The string at pos (nil if the value there is not one) and the position after the value.
local function mp_string(s, pos)
  local b = string.byte(s, pos) or error('truncated')
  if b >= 0xa0 and b < 0xc0 then return string.sub(s, pos + 1, pos + b - 0xa0), pos + 1 + b - 0xa0 end
  local size = MP_STRING[b]
  if not size then return nil, mp_skip(s, pos) end
  local start = pos + 1 + size
  local stop = start + mp_uint(s, pos + 1, size)
  return string.sub(s, start, stop - 1), stop
end

local BLOB_FIELDS = {'account', 'destination', 'source', 'channel', 'direction'}

-- Fields 3-7 of the blob: account, destination, source, channel, direction (after the
-- format version and the id).
local function read_blob(blob)
  local f, b = {}, string.byte(blob, 1)
  if not b or not ((b >= 0x95 and b < 0xa0) or b == 0xdc or b == 0xdd) then return f end
  local pos = mp_skip(blob, mp_next(blob, 1))
  local _, value
  _, pos = mp_string(blob, pos)
  for _, name in ipairs(BLOB_FIELDS) do
    value, pos = mp_string(blob, pos)
    f[name] = value
  end
  return f
end

-- The archive fields of a packed message; {} if it cannot be read (never fails the write).
local function blob_fields(blob)
  local ok, f = pcall(read_blob, blob or '')
  if ok then return f end
  return {}
end

-- The string value of key name in the extra map of a packed message (its last field,
-- Message.extra: e.g. 'svc', the SMPP service_type when one was given), nil if it has none.
local BLOB_EXTRA = 22  -- the position of extra in Message.static_blob

local function read_blob_extra(blob, name)
  local b = string.byte(blob, 1)
  if not b or not (b == 0xdc or b == 0xdd) then return nil end  -- 22 fields: an array16/32
  local pos, count = mp_next(blob, 1)
  if count < BLOB_EXTRA then return nil end
  for _ = 1, BLOB_EXTRA - 1 do pos = mp_skip(blob, pos) end
  b = string.byte(blob, pos)
  if not b or not ((b >= 0x80 and b < 0x90) or b == 0xde or b == 0xdf) then return nil end
  local nested
  pos, nested = mp_next(blob, pos)
  for _ = 1, nested / 2 do
    local key
    key, pos = mp_string(blob, pos)
    if key == name then return (mp_string(blob, pos)) end
    pos = mp_skip(blob, pos)
  end
  return nil
end

local function blob_extra(blob, name)
  local ok, value = pcall(read_blob_extra, blob or '', name)
  if ok then return value end
  return nil
end

local function archive_number(n)
  if n and string.byte(n, 1) == 43 then return string.sub(n, 2) end
  return n
end

-- The keys of a day's indexes (and the day as a string), made once per script run.
local days_made = {}
local function day_keys(day)
  local d = days_made[day]
  if not d then
    local s = int(day)
    d = {day = s, all = K.archive_all(s), numbers = K.archive_numbers(s), by = {}}
    days_made[day] = d
  end
  return d
end

local function day_key_by(d, field, value)
  local keys = d.by[field]
  if not keys then
    keys = {}
    d.by[field] = keys
  end
  local key = keys[value]
  if not key then
    key = K.archive_by(d.day, field, value)
    keys[value] = key
  end
  return key
end

local function present(value) return value ~= nil and value ~= false and value ~= '' end

-- Every index entry of a message on its day, as visit(key, entry): the day's index,
-- account, 'd:MO' for incoming messages (MT is the rest), for records pulled from
-- another node 'o:<origin>' (a local message is one without '@'), and its numbers
-- (destination and source, without '+') in the day's number index.  Each costs a write
-- on the accept path, so only fields that narrow a search a lot have one: state and
-- channel are checked while a search walks the narrowest of these (archive_scan.lua),
-- and a state change writes no index at all.  The numbers share one key a day
-- (K.archive_numbers, entries K.archive_number_entry), not one key per number as
-- before: the numbers of a batch are mostly all different, and one ZADD of them all
-- costs less than a ZADD (and a new key) each.
local function archive_entries(d, f, origin, member, visit)
  visit(d.all, member)
  if present(f.account) then visit(day_key_by(d, 'a', f.account), member) end
  if f.direction == 'MO' then visit(day_key_by(d, 'd', 'MO'), member) end
  if present(origin) then visit(day_key_by(d, 'o', origin), member) end
  local dst, src = archive_number(f.destination), archive_number(f.source)
  if present(dst) then visit(d.numbers, K.archive_number_entry(dst, member)) end
  if present(src) and src ~= dst then visit(d.numbers, K.archive_number_entry(src, member)) end
end

-- Index keys of earlier versions: one per number (searches still read them,
-- archive_scan.lua), and the first version's by state and channel; retention removes
-- their entries (gateway/store/lua/archive_expire.lua).
local function archive_legacy_keys(d, f, state)
  local out = {}
  local dst, src = archive_number(f.destination), archive_number(f.source)
  if present(dst) then out[#out + 1] = day_key_by(d, 'n', dst) end
  if present(src) and src ~= dst then out[#out + 1] = day_key_by(d, 'n', src) end
  if present(f.channel) then out[#out + 1] = day_key_by(d, 'c', f.channel) end
  if state then out[#out + 1] = day_key_by(d, 's', small(state)) end
  return out
end

-- Local messages (not records pulled from other nodes) go on the change feed other
-- nodes sync from; a later change moves the message to the end of the feed.  Sequence
-- numbers are reserved in growing blocks (a run filing many messages makes a few INCRBY
-- calls, not one per message); numbers a run leaves unused are only gaps.
local seq_next, seq_last, seq_block = 1, 0, 1
local function archive_changed(id)
  if seq_next > seq_last then
    seq_last = redis.call('INCRBY', K.ARCHIVE_SEQ, seq_block)
    seq_next = seq_last - seq_block + 1
    seq_block = math.min(seq_block * 2, 1024)
  end
  zadd_later(K.ARCHIVE_CHANGES, int(seq_next), id)
  seq_next = seq_next + 1
end

local function file_entry(key, entry) zadd_later(key, '0', entry) end

-- File a message just written to K.message(member), whose hash the caller gave the field
-- 'ad' (archive_day_field(member)); origin: nil for a local message.  fields: its
-- account, destination, source and direction when the caller has them at hand, else
-- they are read from the packed message.
local archive_days_seen = {}
local function archive_add(member, blob, origin, fields)
  local day = archive_day(member)
  if day == nil then return end
  local d = day_keys(day)
  archive_entries(d, fields or blob_fields(blob), origin, member, file_entry)
  if not archive_days_seen[day] then
    redis.call('ZADD', K.ARCHIVE_DAYS, d.day, d.day)
    archive_days_seen[day] = true
  end
  if origin == nil then archive_changed(member) end
end

-- The 'ad' field of an archived message: its day, '' if its id tells none.
local function archive_day_field(id)
  local day = archive_day(id)
  if day == nil then return '' end
  return day_keys(day).day
end

-- Queue order: higher priority first, then earlier first (ms < 1e13 until year 2286).
local function score(prio, ms)
  prio = math.max(0, math.min(9, tonumber(prio) or 0))
  return (9 - prio) * 1e13 + ms
end

-- score() as a command argument, made once per priority and time.
local scores_at, scores_made = nil, {}
local function score_arg(prio, ms)
  if scores_at ~= ms then scores_at, scores_made = ms, {} end
  local key = tonumber(prio) or 0
  local made = scores_made[key]
  if not made then
    made = int(score(prio, ms))
    scores_made[key] = made
  end
  return made
end

-- A state change: the new state, its history word and, for an archived message, its
-- place on the change feed.  history and archived: the message's 'h' and 'ad' fields as
-- the caller read them; ... more field/value pairs written by the same HSET.
local word_state, word_at, word
local function history_word(state, at)  -- ' <state>@<at>', shared by consecutive calls alike
  if state ~= word_state or at ~= word_at then
    word_state, word_at, word = state, at, ' ' .. small(state) .. '@' .. int(at)
  end
  return word
end

local function set_state(mkey, id, state, now, history, archived, ...)
  redis.call('HSET', mkey, 's', small(state), 'h', (history or '') .. history_word(state, now), ...)
  if archived and archived ~= '' then archive_changed(id) end
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

-- Report ids ('r' .. n) are reserved in growing blocks, like the change feed's numbers.
local rid_next, rid_last, rid_block = 1, 0, 1
local function next_report_id()
  if rid_next > rid_last then
    rid_last = redis.call('INCRBY', K.OUTBOX_SEQ, rid_block)
    rid_next = rid_last - rid_block + 1
    rid_block = math.min(rid_block * 2, 1024)
  end
  rid_next = rid_next + 1
  return string.format('r%d', rid_next - 1)
end

-- Accounts given a report by this script run: each one's wake channel is published
-- once, after the script (script_done), however many reports it got; consumers take
-- everything waiting when woken.
local report_wakes = {}

-- A report for the account's client (DLR or MO); kept until taken and acknowledged.
-- extra: packed receipt fields from the provider (an HLR result), or nil.
local outbox_items_key, outbox_ready_key = once_per_run(K.outbox_items), once_per_run(K.outbox_ready)
local report_at, report_at_arg
local function push_report(acct, kind, id, state, err, now, blob, text, extra)
  local rid = next_report_id()
  local report = cmsgpack.pack({kind, rid, id, state, err, now, blob, text, extra or nil})
  if report_at ~= now then report_at, report_at_arg = now, int(now) end
  later('HSET', outbox_items_key(acct), rid, report)
  zadd_later(outbox_ready_key(acct), report_at_arg, rid)
  if not report_wakes[acct] then
    redis.call('SADD', K.OUTBOX_ACCOUNTS, acct)
    report_wakes[acct] = true
  end
  return rid
end

local function publish_wakes()
  for acct in pairs(report_wakes) do redis.call('PUBLISH', K.outbox_wake(acct), '') end
  report_wakes = {}
end

-- Run after every script body (gateway/store/scripting.py): what the run deferred.
local function script_done()
  write_deferred()
  publish_wakes()
end

-- Fields of a message hash, read with one HMGET: {name = value (false when absent)}.
local function read_fields(mkey, names)
  local values = redis.call('HMGET', mkey, unpack(names))
  local f = {}
  for i, name in ipairs(names) do f[name] = values[i] end
  return f
end

-- What a move to a final state reads: state, history, archive day, registered_delivery,
-- account, owner, dead-letter flag.
local FINAL_FIELDS = {'s', 'h', 'ad', 'r', 'a', 'o', 'dl'}

-- A DLR for the message's client if its registered_delivery asks for one in this state.
-- f: fields of the message the caller has read (r, a and maybe d, t, rx), nil to read here.
local function dlr_if_wanted(id, mkey, state, err, now, f)
  f = f or read_fields(mkey, {'r', 'a'})
  if not wants_dlr(f.r, state) then return end
  if f.d == nil then
    local more = read_fields(mkey, {'d', 't', 'rx'})
    f.d, f.t, f.rx = more.d, more.t, more.rx
  end
  push_report(f.a, 'dlr', id, state, err, now, f.d, f.t or '', f.rx)
end

-- Move a message to a final state; f: its FINAL_FIELDS (and maybe d, t, rx) as read by
-- the caller, which checked that it is in no final state yet; ... more field/value pairs.
local function finalize_fields(id, mkey, f, state, err, now, ...)
  set_state(mkey, id, state, now, f.h, f.ad, 'e', small(err), ...)
  if f.o or f.dl then redis.call('HDEL', mkey, 'o', 'dl') end
  dlr_if_wanted(id, mkey, state, err, now, f)
end

-- Move a message to a final state (no-op if it already is in one).
local function finalize(id, state, err, now)
  local mkey = K.message(id)
  local f = read_fields(mkey, FINAL_FIELDS)
  local cur = tonumber(f.s)
  if cur == nil or FINAL[cur] then return false end
  finalize_fields(id, mkey, f, state, err, now)
  return true
end

-- Put a message on a provider's queue: ready now, or delayed until due.
local function enqueue(id, provider, prio, due, now, woken)
  if due > now then
    redis.call('ZADD', K.delayed(provider), int(due), id)
  else
    redis.call('ZADD', K.ready(provider), score_arg(prio, now), id)
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
  local short = false
  if cost > 0 then
    if ctx.bal[acct] == nil then
      ctx.bal[acct] = tonumber(redis.call('GET', K.balance(acct)) or '-1')
      ctx.spent[acct] = 0
    end
    short = ctx.bal[acct] >= 0 and ctx.bal[acct] - ctx.spent[acct] < cost
  end
  if dd > 0 then
    -- A duplicate is refused as one even when funds are short too; an admitted message
    -- marks its text seen with the same SET that finds out whether it was (NX).
    local ddkey = K.dedup(acct, redis.sha1hex(dst .. '\0' .. text))
    if short then
      if redis.call('EXISTS', ddkey) == 1 then return 0x453 end
    elseif not redis.call('SET', ddkey, '1', 'PX', small(dd), 'NX') then
      return 0x453
    end
  end
  if short then return 0x433 end
  if cost > 0 then ctx.spent[acct] = ctx.spent[acct] + cost end
  if tp > 0 then
    ctx.tp[acct] = ctx.tp[acct] + 1
    ctx.tp_added[acct] = (ctx.tp_added[acct] or 0) + 1
  end
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

-- The archive fields of an accept envelope (see accept.lua), so that filing it needs no
-- unpacking; nil for an envelope without the source (written by an older version and
-- kept by a multipart message being assembled): then they are read from the blob.
local envelope_f = {direction = 'MT'}  -- one table for every message of the run
local function envelope_fields(m)
  if m[15] == nil then return nil end
  envelope_f.account, envelope_f.destination, envelope_f.source = m[2], m[14], m[15]
  return envelope_f
end

local ready_key, delayed_key = once_per_run(K.ready), once_per_run(K.delayed)
local accepted_at, accepted_word
local message_args = {}  -- the HSET arguments of a new message, one table for every message

-- Providers given messages in flight by this run (see store_message), each added once
-- to K.PROVIDERS, the set whose in-flight hashes reap.lua goes through.
local providers_known = {}
local function provider_known(p)
  if not providers_known[p] then
    redis.call('SADD', K.PROVIDERS, p)
    providers_known[p] = true
  end
end

-- Write a new message hash (state ACCEPTED) and queue it on the route's first provider,
-- or, given a lease owner (the caller checked that the owner's lease is live and that
-- nothing waits in that provider's ready queue), file it in flight under that owner.
local function store_message(now, m, woken, owner)
  -- m: id, account, provider, priority, due, expiry, rd, route, text, blob (see accept.lua)
  local id = m[1]
  if accepted_at ~= now then accepted_at, accepted_word = now, small(ACCEPTED) .. '@' .. int(now) end
  local f = message_args
  f[1], f[2], f[3], f[4], f[5], f[6] = 'd', m[10], 't', m[9], 's', small(ACCEPTED)
  f[7], f[8], f[9], f[10], f[11], f[12] = 'h', accepted_word, 'p', m[3], 'a', m[2]
  f[13], f[14] = 'ad', archive_day_field(id)
  local n = 14
  -- Fields at their default are left out (every reader takes absent for it): no expiry,
  -- no registered_delivery, priority 0, a route of the one provider (failover finds no
  -- next one).
  if m[6] > 0 then f[n + 1], f[n + 2], n = 'x', int(m[6]), n + 2 end
  if m[7] > 0 then f[n + 1], f[n + 2], n = 'r', small(m[7]), n + 2 end
  if (tonumber(m[4]) or 0) ~= 0 then f[n + 1], f[n + 2], n = 'pr', small(m[4]), n + 2 end
  if m[8] ~= m[3] then f[n + 1], f[n + 2], n = 'rt', m[8], n + 2 end
  redis.call('HSET', K.message(id), unpack(f, 1, n))
  archive_add(id, m[10], nil, envelope_fields(m))
  if owner then
    later('HSET', K.inflight(m[3]), id, owner)  -- as take.lua does; nothing here reads it
    provider_known(m[3])
  elseif m[5] > now then
    zadd_later(delayed_key(m[3]), int(m[5]), id)
  else
    zadd_later(ready_key(m[3]), score_arg(m[4], now), id)
    woken[m[3]] = true
  end
end

-- Keep a message that was refused after some of it was acknowledged (a multipart
-- message): final REJECTED with the status as error code, DLR if asked.
local function store_rejected(now, m, status)
  local id = m[1]
  local mkey = K.message(id)
  redis.call('HSET', mkey, 'd', m[10], 't', m[9], 's', REJECTED, 'h', REJECTED .. '@' .. now,
             'p', m[3], 'rt', m[8], 'a', m[2], 'pr', m[4], 'r', m[7], 'e', status,
             'ad', archive_day_field(id))
  archive_add(id, m[10], nil, envelope_fields(m))
  dlr_if_wanted(id, mkey, REJECTED, status, now, {r = m[7], a = m[2], d = m[10], t = m[9], rx = false})
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
