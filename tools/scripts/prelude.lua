-- Shared by every change.  KEYS[1] is the meta hash, ARGV[1] the caller's
-- master key id, ARGV[2] the time.  A script that fails half-way keeps what
-- it wrote, so every script checks everything before its first write.

local function check_id()
  local id = redis.call('HGET', KEYS[1], 'master_key_id')
  if not id then
    return redis.error_reply('NOINIT')
  end
  if id ~= ARGV[1] then
    return redis.error_reply('KEYID ' .. id)
  end
  return nil
end

local function limit(name)
  return tonumber(redis.call('HGET', KEYS[1], name))
end

-- A whitelist's bound: max_ips, but never past the module's bound,
-- APIAUTH_IPS_MAX, which apiauth-ctl puts before this prelude from
-- apiauth_key.h; a store may hold a larger max_ips, set before there was a
-- bound or straight into Redis.  The refusal says which bound it was.
local function ips_max()
  local max = limit('max_ips')
  if not max or max >= APIAUTH_IPS_MAX then
    return APIAUTH_IPS_MAX, 'MAXIPS ' .. APIAUTH_IPS_MAX .. ' module'
  end
  return max, 'MAXIPS ' .. max
end

local function split(s)
  local t = {}
  if s then
    for x in string.gmatch(s, '[^,]+') do
      t[#t + 1] = x
    end
  end
  return t
end

-- Announces the change and the accessKeys it touched in the same step as
-- the change itself, so no change goes unannounced.
local function changed(op, aks)
  redis.call('HINCRBY', KEYS[1], 'generation', 1)
  local msg = op
  if #aks > 0 then
    msg = msg .. ' ' .. table.concat(aks, ' ')
  end
  redis.call('PUBLISH', APIAUTH_CHANGES, msg)
end

