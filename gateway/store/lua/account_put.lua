-- Create or replace an account.  ARGV: name, msgpack [field, json value, ...],
-- msgpack [api key digest, ...], mode ('put' | 'add': fail if it exists).
-- Returns 1, or 0 when mode is 'add' and the account exists.
local name, mode = ARGV[1], ARGV[4]
local akey = K.account(name)
if mode == 'add' and redis.call('EXISTS', akey) == 1 then return 0 end
local digests = cmsgpack.unpack(ARGV[3])
local keep = {}
for _, digest in ipairs(digests) do keep[digest] = true end
local old = redis.call('HGET', akey, 'api_keys')
if old then
  for _, digest in ipairs(cjson.decode(old)) do
    if not keep[digest] and redis.call('GET', K.api_key(digest)) == name then
      redis.call('DEL', K.api_key(digest))
    end
  end
end
redis.call('DEL', akey)
redis.call('HSET', akey, unpack(cmsgpack.unpack(ARGV[2])))
for _, digest in ipairs(digests) do redis.call('SET', K.api_key(digest), name) end
redis.call('SADD', K.ACCOUNTS, name)
return 1
