-- KEYS: meta, key.  ARGV: id, now, ak, op, n, then n field/value pairs to
-- set, then fields to delete.  Returns the salt when it set one, so that
-- the caller prints the secret of this change, not of a later one.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('NOKEY ' .. ARGV[3])
end
local n = tonumber(ARGV[5])
local f = { 'updated', ARGV[2] }
local salt = 'OK'
for i = 0, n - 1 do
  f[#f + 1] = ARGV[6 + 2 * i]
  f[#f + 1] = ARGV[7 + 2 * i]
  if ARGV[6 + 2 * i] == 'salt' then
    salt = ARGV[7 + 2 * i]
  end
end
redis.call('HSET', KEYS[2], unpack(f))
for i = 6 + 2 * n, #ARGV do
  redis.call('HDEL', KEYS[2], ARGV[i])
end
changed('key.' .. ARGV[4], { ARGV[3] })
return salt
