-- The change feed other nodes sync from (gateway/sync): local archived messages whose
-- last change has a sequence number above ARGV[1], oldest change first.
-- ARGV: after, limit (rows returned at most), budget (feed entries examined at most),
-- account ('' for every account).
-- Returns {last sequence examined, examined, member, sequence, member, sequence, ...}.
local after, limit, budget, acct = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local rows = redis.call('ZRANGEBYSCORE', K.ARCHIVE_CHANGES, '(' .. after, '+inf', 'WITHSCORES',
                        'LIMIT', 0, math.max(limit, budget))
local out, last, examined, taken = {}, after, 0, 0
for i = 1, #rows, 2 do
  local member, seq = rows[i], rows[i + 1]
  local wanted = acct == '' or redis.call('HGET', K.message(member), 'a') == acct
  if wanted and taken >= limit then break end
  examined, last = examined + 1, seq
  if wanted then
    out[#out + 1] = member
    out[#out + 1] = seq
    taken = taken + 1
  end
end
table.insert(out, 1, examined)
table.insert(out, 1, last)
return out
