-- KEYS: meta, index, old key, new key.  ARGV: id, now, old ak, new ak,
-- new salt.  The old accessKey and its secret stop working at once.
-- Returns the salt.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return redis.error_reply('NOKEY ' .. ARGV[3])
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  return redis.error_reply('EXISTS ' .. ARGV[4])
end
redis.call('RENAME', KEYS[3], KEYS[4])
-- its usage and its place among its policy's keys follow it
for _, prefix in ipairs({ APIAUTH_RATE_PREFIX, APIAUTH_QUOTA_PREFIX }) do
  if redis.call('EXISTS', prefix .. ARGV[3]) == 1 then
    redis.call('RENAME', prefix .. ARGV[3], prefix .. ARGV[4])
  else
    redis.call('DEL', prefix .. ARGV[4])
  end
end
local policy = redis.call('HGET', KEYS[4], 'policy')
if policy then
  redis.call('SREM', APIAUTH_POLICY_KEYS_PREFIX .. policy, ARGV[3])
  redis.call('SADD', APIAUTH_POLICY_KEYS_PREFIX .. policy, ARGV[4])
end
redis.call('HSET', KEYS[4], 'salt', ARGV[5], 'updated', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[4])
changed('key.set-access-key', { ARGV[3], ARGV[4] })
return ARGV[5]
