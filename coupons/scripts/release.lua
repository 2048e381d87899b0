#!lua flags=allow-oom
-- release.lua: give a slot back, but only if this grant still holds it (DESIGN §3).
--
-- KEYS[1] holders  hash: user id -> "<slot>:<grant id>"
-- KEYS[2] leases   zset: "<slot>:<user id>:<grant id>" -> deadline
-- KEYS[3] free     list: released slot numbers
-- KEYS[4] provisional  hash: user id -> grant id of a hold not yet known to be committed
-- ARGV[1] user id
-- ARGV[2] slot
-- ARGV[3] grant id
-- ARGV[4] "1" to put the slot back on the free list, "0" to drop the hold only
--         (the database says another live grant owns that slot)
--
-- Returns 1 when the hold was this grant's and is now gone, 0 otherwise (a
-- stale or repeated release changes nothing but its own lease).
assert(#KEYS == 4, "release.lua takes 4 keys")

local user, slot, grant = ARGV[1], ARGV[2], ARGV[3]
redis.call("ZREM", KEYS[2], slot .. ":" .. user .. ":" .. grant)
if redis.call("HGET", KEYS[4], user) == grant then
  redis.call("HDEL", KEYS[4], user)
end
if redis.call("HGET", KEYS[1], user) ~= slot .. ":" .. grant then
  return 0
end
redis.call("HDEL", KEYS[1], user)
if ARGV[4] == "1" then
  redis.call("RPUSH", KEYS[3], slot)
end
return 1
