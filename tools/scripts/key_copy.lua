-- KEYS: meta, index, source key, new key.  ARGV: id, now, source ak,
-- new ak, name, salt, status, expires ('' for never).  The copy has the
-- source's policy and JWT method, and its own usage.  Returns the salt.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return redis.error_reply('NOKEY ' .. ARGV[3])
end
if redis.call('EXISTS', KEYS[4]) == 1 then
  return redis.error_reply('EXISTS ' .. ARGV[4])
end
local max = limit('max_keys')
if redis.call('ZCARD', KEYS[2]) >= max then
  return redis.error_reply('MAXKEYS ' .. max)
end
local s = redis.call('HMGET', KEYS[3], 'description', 'apps', 'interfaces',
                     'ips', 'policy', 'limits', 'jwt_alg', 'jwt_public_key',
                     'jwt_issuer', 'jwt_audience', 'jwt_max_lifetime',
                     'jwt_require_exp')
if #split(s[4]) > APIAUTH_IPS_MAX then
  return redis.error_reply('MAXIPS ' .. APIAUTH_IPS_MAX .. ' module')
end
local f = { 'name', ARGV[5], 'description', s[1] or '', 'salt', ARGV[6],
            'status', ARGV[7], 'created', ARGV[2], 'updated', ARGV[2],
            'apps', s[2] or '*', 'interfaces', s[3] or '*', 'ips', s[4] or '' }
if ARGV[8] ~= '' then
  f[#f + 1] = 'expires'
  f[#f + 1] = ARGV[8]
end
if s[5] and s[6] then
  f[#f + 1] = 'policy'
  f[#f + 1] = s[5]
  f[#f + 1] = 'limits'
  f[#f + 1] = s[6]
  redis.call('SADD', APIAUTH_POLICY_KEYS_PREFIX .. s[5], ARGV[4])
end
local jwt = { 'jwt_alg', 'jwt_public_key', 'jwt_issuer', 'jwt_audience',
              'jwt_max_lifetime', 'jwt_require_exp' }
for i, name in ipairs(jwt) do
  if s[6 + i] then
    f[#f + 1] = name
    f[#f + 1] = s[6 + i]
  end
end
redis.call('HSET', KEYS[4], unpack(f))
redis.call('ZADD', KEYS[2], 0, ARGV[4])
changed('key.copy', { ARGV[4] })
return ARGV[6]
