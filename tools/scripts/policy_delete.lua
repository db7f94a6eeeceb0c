-- KEYS: meta, policy index, policy, the set of accessKeys that use it.
-- ARGV: id, now, name.  Refused while a key uses it: the refusal names the
-- number of keys and the first ten.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[3]) == 0 then
  return redis.error_reply('NOPOLICY ' .. ARGV[3])
end
local n = redis.call('SCARD', KEYS[4])
if n > 0 then
  local aks = redis.call('SORT', KEYS[4], 'ALPHA', 'LIMIT', 0, 10)
  return redis.error_reply('INUSE ' .. n .. ' ' .. table.concat(aks, ','))
end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[2], ARGV[3])
changed('policy.delete', {})
return 'OK'
