-- Delete an account, its API key lookups and its balance.  ARGV: name.  Returns 1 if it existed.
local name = ARGV[1]
local akey = K.account(name)
local old = redis.call('HGET', akey, 'api_keys')
if old then
  for _, digest in ipairs(cjson.decode(old)) do
    if redis.call('GET', K.api_key(digest)) == name then redis.call('DEL', K.api_key(digest)) end
  end
end
redis.call('DEL', K.balance(name))
redis.call('SREM', K.ACCOUNTS, name)
return redis.call('DEL', akey)
