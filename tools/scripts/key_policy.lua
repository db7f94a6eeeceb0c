-- KEYS: meta, key.  ARGV: id, now, ak, policy name ('' for none).  The key
-- holds the policy's name and its limits; the policy's set of keys follows.
-- What the key has consumed stays: a new quota applies to it at once.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('NOKEY ' .. ARGV[3])
end
local old = redis.call('HGET', KEYS[2], 'policy')
if ARGV[4] ~= '' then
  local limits = redis.call('HGET', APIAUTH_POLICY_PREFIX .. ARGV[4],
                            'limits')
  if not limits then
    return redis.error_reply('NOPOLICY ' .. ARGV[4])
  end
  redis.call('HSET', KEYS[2], 'policy', ARGV[4], 'limits', limits,
             'updated', ARGV[2])
  redis.call('SADD', APIAUTH_POLICY_KEYS_PREFIX .. ARGV[4], ARGV[3])
else
  redis.call('HDEL', KEYS[2], 'policy', 'limits')
  redis.call('HSET', KEYS[2], 'updated', ARGV[2])
end
if old and old ~= ARGV[4] then
  redis.call('SREM', APIAUTH_POLICY_KEYS_PREFIX .. old, ARGV[3])
end
changed('key.policy', { ARGV[3] })
return 'OK'
