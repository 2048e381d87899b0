#!lua flags=allow-oom
-- restore.lua: give back an active place whose pass was consumed by a claim
-- that then failed for a reason that is not the user's (store unavailable).
--
-- KEYS[1] active  KEYS[2] meta
-- ARGV[1] user id  ARGV[2] pass expiry (ms)
-- Returns 1 restored, 0 not (the room is full again or the pass expired).
assert(#KEYS == 2, "restore.lua takes 2 keys")

local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(ARGV[2]) <= now then
  return 0
end
local max_active = tonumber(redis.call("HGET", KEYS[2], "max_active") or "0")
if redis.call("ZCARD", KEYS[1]) >= max_active then
  return 0
end
redis.call("ZADD", KEYS[1], tonumber(ARGV[2]), ARGV[1])
return 1
