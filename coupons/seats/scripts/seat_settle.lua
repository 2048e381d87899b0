#!lua flags=allow-oom
-- seat_settle.lua: after PostgreSQL decided, mark a seat sold, or release a hold.
--
-- KEYS[1] seats  KEYS[2] seat_holder  KEYS[3] seat_holds  KEYS[4] seats_sold (GateKeys.seats_sold: the `next` key)
-- ARGV[1] "sold" or "release"
-- ARGV[2] slot  ARGV[3] user id  ARGV[4] token ("" with "sold": whoever held it)
-- Returns 1 when something changed.
assert(#KEYS == 4, "seat_settle.lua takes 4 keys")

local slot, user, token = ARGV[2], ARGV[3], ARGV[4]
local value = redis.call("HGET", KEYS[1], slot)
if ARGV[1] == "sold" then
  if value == "sold" then
    return 0
  end
  redis.call("HSET", KEYS[1], slot, "sold")
  redis.call("ZREM", KEYS[3], slot)
  redis.call("INCR", KEYS[4])
  if redis.call("HGET", KEYS[2], user) and string.match(redis.call("HGET", KEYS[2], user), "^([^:]+):") == slot then
    redis.call("HDEL", KEYS[2], user)
  end
  return 1
end
-- release: only this user's hold with this token
if value and value ~= "sold" then
  local holder, held_token = string.match(value, "^held:([^:]+):([^:]+):")
  if holder == user and held_token == token then
    redis.call("HDEL", KEYS[1], slot)
    redis.call("ZREM", KEYS[3], slot)
    redis.call("HDEL", KEYS[2], user)
    return 1
  end
end
return 0
