#!lua
-- leave.lua: a user leaves the line, or gives up the admission they hold.
--
-- KEYS[1] queue  KEYS[2] active  KEYS[3] used
-- ARGV[1] user id
-- A pass given up this way is marked used (member "<user>:<pass expiry>"), so
-- it cannot come back on trust (consume.lua) and take a place the next person
-- already has. The heartbeat bit of the old arrival number belongs to nobody now.
assert(#KEYS == 3, "leave.lua takes 3 keys")

redis.call("ZREM", KEYS[1], ARGV[1])
local expiry = redis.call("ZSCORE", KEYS[2], ARGV[1])
if expiry then
  redis.call("ZREM", KEYS[2], ARGV[1])
  redis.call("ZADD", KEYS[3], expiry, ARGV[1] .. ":" .. string.format("%.0f", tonumber(expiry)))
end
return 1
