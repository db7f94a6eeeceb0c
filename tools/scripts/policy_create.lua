-- KEYS: meta, policy index, policy.  ARGV: id, now, name, limits (the
-- text form of apiauth_policy.h, checked by apiauth-ctl).
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('POLEXISTS ' .. ARGV[3])
end
redis.call('HSET', KEYS[3], 'limits', ARGV[4], 'created', ARGV[2],
           'updated', ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
changed('policy.create', {})
return 'OK'
