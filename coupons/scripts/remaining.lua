#!lua flags=no-writes
-- remaining.lua: slots still available, in O(1).
--
-- KEYS[1] meta  KEYS[2] next  KEYS[3] free
-- Returns remaining (quantity - next + free), what a retired gate's tombstone recorded
-- (retire.lua), or -1 when the gate state is missing.
assert(#KEYS == 3, "remaining.lua takes 3 keys")

local quantity, retired = unpack(redis.call("HMGET", KEYS[1], "quantity", "remaining"))
if retired then
  return tonumber(retired)
end
if not quantity then
  return -1
end
return tonumber(quantity) - tonumber(redis.call("GET", KEYS[2]) or "0") + redis.call("LLEN", KEYS[3])
