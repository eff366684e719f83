-- One more failure of key ARGV[2] in scope ARGV[1] (gateway/store/throttle.py).
-- ARGV[3] limit, ARGV[4] ms the count lives (from its first failure, or from its last
-- when ARGV[6] is '1'), ARGV[5] block ms.  A key already blocked is not counted.
-- Returns {failures counted, block ms left (0: not blocked), 1 if this failure blocked it}.
local block = K.failures_block(ARGV[1], ARGV[2])
local left = redis.call('PTTL', block)
if left > 0 then return {0, left, 0} end
local count = K.failures(ARGV[1], ARGV[2])
local n = redis.call('INCR', count)
if n == 1 or ARGV[6] == '1' then redis.call('PEXPIRE', count, ARGV[4]) end
if n < tonumber(ARGV[3]) then return {n, 0, 0} end
redis.call('SET', block, n, 'PX', ARGV[5])
redis.call('DEL', count)
return {n, tonumber(ARGV[5]), 1}
