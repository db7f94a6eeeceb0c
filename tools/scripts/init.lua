-- KEYS: meta.  ARGV: id, now, max_keys, max_ips.
local id = redis.call('HGET', KEYS[1], 'master_key_id')
if id and id ~= ARGV[1] then
  return redis.error_reply('KEYID ' .. id)
end
if id then
  return 'EXISTS'
end
local e = check_changes()
if e then return e end
redis.call('HSET', KEYS[1], 'master_key_id', ARGV[1], 'created', ARGV[2],
           'schema', tostring(APIAUTH_SCHEMA))
redis.call('HSETNX', KEYS[1], 'max_keys', ARGV[3])
redis.call('HSETNX', KEYS[1], 'max_ips', ARGV[4])
changed('init', {})
return 'OK'
