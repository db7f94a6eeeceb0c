-- KEYS: meta, key.  ARGV: id, now, ak, action (add, remove, clear), then
-- canonical entries.  Returns the number of entries afterwards.
local e = check_id()
if e then return e end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('NOKEY ' .. ARGV[3])
end
local cur = split(redis.call('HGET', KEYS[2], 'ips'))
local have = {}
for _, x in ipairs(cur) do
  have[x] = true
end
if ARGV[4] == 'clear' then
  cur = {}
elseif ARGV[4] == 'add' then
  for i = 5, #ARGV do
    if not have[ARGV[i]] then
      cur[#cur + 1] = ARGV[i]
      have[ARGV[i]] = true
    end
  end
  local max, refusal = ips_max()
  if #cur > max then
    return redis.error_reply(refusal)
  end
else
  local drop = {}
  for i = 5, #ARGV do
    if not have[ARGV[i]] then
      return redis.error_reply('NOENTRY ' .. ARGV[i])
    end
    drop[ARGV[i]] = true
  end
  local keep = {}
  for _, x in ipairs(cur) do
    if not drop[x] then
      keep[#keep + 1] = x
    end
  end
  cur = keep
end
redis.call('HSET', KEYS[2], 'ips', table.concat(cur, ','),
           'updated', ARGV[2])
changed('key.ip', { ARGV[3] })
return #cur
