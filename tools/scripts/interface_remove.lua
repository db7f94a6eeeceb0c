-- KEYS: meta, interface index, interface.  ARGV: id, now, name.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return redis.error_reply('NOIF ' .. ARGV[3])
end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[3])
changed('interface.remove', {})
return 'OK'
