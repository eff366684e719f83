-- Remember which message went to which phone under an smsc.ru-style request id
-- (gateway/http/smsc/resources.py), numbering the request first when the client gave no id.
-- ARGV: account, request id ('' to number it), seconds to keep the map, then phone and
-- message id pairs.  Returns the request id.
local account, request_id, ttl = ARGV[1], ARGV[2], ARGV[3]
if request_id == '' then
  request_id = tostring(redis.call('INCR', K.smsc_request_seq(account)))
end
local key = K.smsc_request(account, request_id)
redis.call('HSET', key, unpack(ARGV, 4))
redis.call('EXPIRE', key, ttl)
return request_id
