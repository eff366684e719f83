-- Store an incoming (MO) message and hand it to its account's outbox.
-- ARGV: now, id, account ('' when unknown: kept in the orphans list), blob, text.
local now, id, acct, blob, text = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local mkey = K.message(id)
redis.call('HSET', mkey, 'd', blob, 't', text, 's', small(DELIVERED), 'h', small(DELIVERED) .. '@' .. int(now),
           'a', acct, 'ad', archive_day_field(id))
archive_add(id, blob)
if acct == '' then
  redis.call('LPUSH', K.MO_ORPHANS, id)
  return ''
end
return push_report(acct, 'mo', id, DELIVERED, 0, now, blob, text)
