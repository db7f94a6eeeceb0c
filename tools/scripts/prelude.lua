-- Shared by every change.  KEYS[1] is the meta hash, ARGV[1] the caller's
-- master key id, ARGV[2] the time.  A script that fails half-way keeps what
-- it wrote, so every script checks everything before its first write.
-- apiauth-ctl puts the store's names and bounds before this prelude, from
-- apiauth_store.h and apiauth_key.h.

local function check_key_id()
  local id = redis.call('HGET', KEYS[1], 'master_key_id')
  if not id then
    return redis.error_reply('NOINIT')
  end
  if id ~= ARGV[1] then
    return redis.error_reply('KEYID ' .. id)
  end
  return nil
end

-- The change stream's name holds a stream, or nothing yet: anything else
-- would refuse the XADD after the change was written.
local function check_changes()
  local t = redis.call('TYPE', APIAUTH_CHANGES)['ok']
  if t ~= 'stream' and t ~= 'none' then
    return redis.error_reply('CHANGES ' .. t)
  end
  return nil
end

-- The caller's master key, a store of the tool's schema, and a change
-- stream that takes the change's entry.  A store of another schema is
-- refused whole: "apiauth-ctl upgrade" migrates an older one.
local function check_id()
  local e = check_key_id()
  if e then
    return e
  end
  local schema = redis.call('HGET', KEYS[1], 'schema')
  if schema ~= tostring(APIAUTH_SCHEMA) then
    return redis.error_reply('SCHEMA ' .. (schema or 'none'))
  end
  return check_changes()
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

-- Announces the change in the same step as the change itself, so no change
-- goes unannounced: one entry on the change stream, "op" then "ak" for each
-- accessKey touched (a set-access-key names "old" and "new" instead),
-- trimmed to about APIAUTH_CHANGES_MAXLEN entries.  nginx reads the stream
-- and resumes from the last entry it applied.
local function changed(op, aks)
  redis.call('HINCRBY', KEYS[1], 'generation', 1)
  local f = { 'op', op }
  if op == 'key.set-access-key' then
    f[3], f[4], f[5], f[6] = 'old', aks[1], 'new', aks[2]
  else
    for _, ak in ipairs(aks) do
      f[#f + 1] = 'ak'
      f[#f + 1] = ak
    end
  end
  redis.call('XADD', APIAUTH_CHANGES, 'MAXLEN', '~', APIAUTH_CHANGES_MAXLEN,
             '*', unpack(f))
end
