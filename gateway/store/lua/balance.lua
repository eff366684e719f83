-- Add ARGV[2] millionths to the balance of account ARGV[1] if it has one (limited).
-- Returns the new balance, or false for an unlimited account.
local bkey = K.balance(ARGV[1])
if redis.call('EXISTS', bkey) == 0 then return false end
return redis.call('INCRBY', bkey, ARGV[2])
