-- KEYS: meta, index, key.  ARGV: id, now, ak, name, description, salt,
-- status, expires ('' for never), apps, interfaces, ips.  Returns the
-- salt, whose secret is the one to print.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('EXISTS ' .. ARGV[3])
end
local max = limit('max_keys')
if redis.call('ZCARD', KEYS[2]) >= max then
  return redis.error_reply('MAXKEYS ' .. max)
end
local max, refusal = ips_max()
if #split(ARGV[11]) > max then
  return redis.error_reply(refusal)
end
local f = { 'name', ARGV[4], 'description', ARGV[5], 'salt', ARGV[6],
            'status', ARGV[7], 'created', ARGV[2], 'updated', ARGV[2],
            'apps', ARGV[9], 'interfaces', ARGV[10], 'ips', ARGV[11] }
if ARGV[8] ~= '' then
  f[#f + 1] = 'expires'
  f[#f + 1] = ARGV[8]
end
redis.call('HSET', KEYS[3], unpack(f))
redis.call('ZADD', KEYS[2], 0, ARGV[3])
changed('key.create', { ARGV[3] })
return ARGV[6]
