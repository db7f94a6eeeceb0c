-- KEYS: meta.  ARGV: id, now, name, value.
local e = check_id()
if e then return e end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
changed('config.set', {})
return 'OK'
