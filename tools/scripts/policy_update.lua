-- KEYS: meta, policy, the set of accessKeys that use it.  ARGV: id, now,
-- name, limits.  Every key that uses the policy holds its limits, so that
-- nginx reads them with the key: they are rewritten here, in the same step,
-- and the change names every such key, so that nginx fetches them again.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('NOPOLICY ' .. ARGV[3])
end
redis.call('HSET', KEYS[2], 'limits', ARGV[4], 'updated', ARGV[2])
local aks = redis.call('SMEMBERS', KEYS[3])
table.sort(aks)
for _, ak in ipairs(aks) do
  redis.call('HSET', APIAUTH_KEY_PREFIX .. ak, 'limits', ARGV[4])
end
changed('policy.update', aks)
return 'OK'
