#!lua flags=no-writes
-- seat_check.lua: does this user hold this seat with this token, unexpired? (before confirm)
--
-- KEYS[1] seats
-- ARGV[1] user id  ARGV[2] slot  ARGV[3] token  ARGV[4] now in ms, or "" for the server clock
-- Returns "ok:<expiry ms>" | "sold" | "not_holder" (someone else holds it, or a newer token) | "expired"
assert(#KEYS == 1, "seat_check.lua takes 1 key")

-- include: config:lib/clock.lua

local now = now_ms(ARGV[4])
local value = redis.call("HGET", KEYS[1], ARGV[2])
if value == "sold" then
  return "sold"
end
if not value then
  return "expired"
end
local holder, token, expiry = string.match(value, "^held:([^:]+):([^:]+):([^:]+)$")
if holder ~= ARGV[1] or token ~= ARGV[3] then
  return "not_holder"
end
if tonumber(expiry) <= now then
  return "expired"
end
return "ok:" .. expiry
