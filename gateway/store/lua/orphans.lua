-- Return to its ready queue every in-flight message of one provider that an owner holds
-- but is not sending: taken by a take whose reply never reached the owner (Redis went
-- away, or the reply timed out after the script had run).  Such a message would stay in
-- flight for as long as the owner renews its lease, i.e. for ever.
-- ARGV: now, owner, provider, ids the owner is still sending or settling...
-- Returns the number of messages returned.
local now, owner, p = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local known = {}
for i = 4, #ARGV do known[ARGV[i]] = true end
local held = redis.call('HGETALL', K.inflight(p))
local count, woken = 0, {}
for i = 1, #held, 2 do
  local id = held[i]
  if held[i + 1] == owner and not known[id] then
    local mkey = K.message(id)
    redis.call('HDEL', K.inflight(p), id)
    redis.call('HDEL', mkey, 'o')
    enqueue(id, p, redis.call('HGET', mkey, 'pr'), now, now, woken)
    count = count + 1
  end
end
wake(woken)
return count
