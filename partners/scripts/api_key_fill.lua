#!lua
-- api_key_fill.lua: write a partner API key's cached entry (partners/redis.py).
--
-- KEYS[1] entry  hash (fields: see api_key.lua)
-- ARGV[1] mode: "fill" writes only where no entry is (a miss read PostgreSQL and may be
--         older than a revoke that wrote meanwhile); "set" replaces the entry (a key saved)
-- ARGV[2] ms the entry is kept
-- ARGV[3..] field, value, field, value, ...
--
-- A revoked entry is never replaced by anything but a revoked one: a fill or a save that
-- read the key before its revoke committed cannot bring it back. Returns 1 if written, else 0.
assert(#KEYS == 1, "api_key_fill.lua takes 1 key")

local current = redis.call("HGET", KEYS[1], "state")
local incoming
for i = 3, #ARGV, 2 do
  if ARGV[i] == "state" then
    incoming = ARGV[i + 1]
  end
end
if current and (ARGV[1] == "fill" or (current == "revoked" and incoming ~= "revoked")) then
  return 0
end
redis.call("DEL", KEYS[1])
redis.call("HSET", KEYS[1], unpack(ARGV, 3))
redis.call("PEXPIRE", KEYS[1], tonumber(ARGV[2]))
return 1
