-- Add accepted or received messages to the archive index.  ARGV[1] msgpack
-- [{account, id, number}, ...].  Ids sort by time, so every index is a zset of
-- score 0 read in lexicographic (= time) order.  Returns how many were added.
local entries = cmsgpack.unpack(ARGV[1])
local added = 0
for _, e in ipairs(entries) do
  local acct, id, number = e[1], e[2], e[3]
  added = added + redis.call('ZADD', K.archive(acct), 0, id)
  if number ~= '' then redis.call('ZADD', K.archive_number(acct, number), 0, id) end
end
return added
