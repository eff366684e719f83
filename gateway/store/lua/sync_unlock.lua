-- Release the pull lock of a remote node if we still hold it.  ARGV: node, owner token.
if redis.call('GET', K.sync_lock(ARGV[1])) == ARGV[2] then
  return redis.call('DEL', K.sync_lock(ARGV[1]))
end
return 0
