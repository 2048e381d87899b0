#!lua flags=allow-oom
-- seat_settle.lua: after PostgreSQL decided, mark a seat sold, or release a hold.
--
-- KEYS[1] seats  KEYS[2] seat_holder  KEYS[3] seat_holds  KEYS[4] seats_sold (GateKeys.seats_sold: the `next` key)
-- KEYS[5] holders: user -> "<slot>:<grant id>" of the seat they bought (seat_hold.lua refuses them
--         "already_booked")
-- ARGV[1] "sold" or "release"
-- ARGV[2] slot  ARGV[3] user id (with "sold": the buyer)  ARGV[4] token ("" with "sold": whoever held it)
-- ARGV[5] with "sold": the grant id of the sale
-- Returns 1 when something changed.
--
-- A sale also lets go of any other seat the buyer holds (a hold made between
-- the confirm's check and its commit): a buyer holds nothing.
assert(#KEYS == 5, "seat_settle.lua takes 5 keys")

local slot, user, token = ARGV[2], ARGV[3], ARGV[4]
local value = redis.call("HGET", KEYS[1], slot)
if ARGV[1] == "sold" then
  local changed = redis.call("HSET", KEYS[5], user, slot .. ":" .. ARGV[5])
  local held = redis.call("HGET", KEYS[2], user)
  if held then
    local other = string.match(held, "^([^:]+):")
    local other_value = redis.call("HGET", KEYS[1], other)
    if other ~= slot and other_value and string.match(other_value, "^held:([^:]+):") == user then
      redis.call("HDEL", KEYS[1], other)
      redis.call("ZREM", KEYS[3], other)
    end
    redis.call("HDEL", KEYS[2], user)
  end
  if value == "sold" then
    return changed
  end
  redis.call("HSET", KEYS[1], slot, "sold")
  redis.call("ZREM", KEYS[3], slot)
  redis.call("INCR", KEYS[4])
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
