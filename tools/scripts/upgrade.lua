-- KEYS: meta.  ARGV: id, now.  Migrates an older store to APIAUTH_SCHEMA:
-- schema 2 adds the change stream, which the "upgrade" entry makes.  Key
-- records are not touched, so nginx serves on.  Returns the schema found
-- ('none' when the field is missing) and 1 when it upgraded, 0 when the
-- store had the tool's schema already.
local e = check_key_id()
if e then return e end
local schema = redis.call('HGET', KEYS[1], 'schema')
if schema == tostring(APIAUTH_SCHEMA) then
  return { schema, 0 }
end
if schema and not (string.match(schema, '^%d+$')
                   and tonumber(schema) < APIAUTH_SCHEMA) then
  return redis.error_reply('SCHEMA ' .. schema)
end
e = check_changes()
if e then return e end
redis.call('HSET', KEYS[1], 'schema', tostring(APIAUTH_SCHEMA))
changed('upgrade', {})
return { schema or 'none', 1 }
