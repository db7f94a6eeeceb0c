-- KEYS: meta, interface index, interface.  ARGV: id, now, name, url, app.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return redis.error_reply('IFEXISTS ' .. ARGV[3])
end
redis.call('HSET', KEYS[3], 'url', ARGV[4], 'app', ARGV[5],
           'created', ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
changed('interface.add', {})
return 'OK'
