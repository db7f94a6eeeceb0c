-- KEYS: meta, index, key.  ARGV: id, now, ak.  Only a disabled key goes.
local e = check_id()
if e then return e end
local st = redis.call('HGET', KEYS[3], 'status')
if not st then
  return redis.error_reply('NOKEY ' .. ARGV[3])
end
if st ~= 'disabled' then
  return redis.error_reply('ENABLED ' .. ARGV[3])
end
local policy = redis.call('HGET', KEYS[3], 'policy')
if policy then
  redis.call('SREM', APIAUTH_POLICY_KEYS_PREFIX .. policy, ARGV[3])
end
redis.call('DEL', KEYS[3], APIAUTH_RATE_PREFIX .. ARGV[3],
           APIAUTH_QUOTA_PREFIX .. ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[3])
changed('key.delete', { ARGV[3] })
return 'OK'
