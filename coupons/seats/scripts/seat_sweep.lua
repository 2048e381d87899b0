#!lua flags=allow-oom
-- seat_sweep.lua: return expired holds (a batch), so the map shows them free at once.
--
-- KEYS[1] seats  KEYS[2] seat_holder  KEYS[3] seat_holds  KEYS[4] seat_session
-- ARGV[1] now in ms, or "" for the Redis server clock (the clock holds were made with)
-- ARGV[2] batch size
-- Returns how many holds were returned.
assert(#KEYS == 4, "seat_sweep.lua takes 4 keys")

-- include: config:lib/clock.lua

local now = now_ms(ARGV[1])
local slots = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now, "LIMIT", 0, tonumber(ARGV[2]))
local returned = 0
for _, slot in ipairs(slots) do
  redis.call("ZREM", KEYS[3], slot)
  local value = redis.call("HGET", KEYS[1], slot)
  if value and value ~= "sold" then
    local holder, token, expiry = string.match(value, "^held:([^:]+):([^:]+):([^:]+)$")
    if tonumber(expiry) <= now then
      redis.call("HDEL", KEYS[1], slot)
      local mine = redis.call("HGET", KEYS[2], holder)
      if mine == slot .. ":" .. token then
        redis.call("HDEL", KEYS[2], holder)
      end
      returned = returned + 1
    end
  end
end
-- shopping sessions that ended (waiting-room campaigns) go too
redis.call("ZREMRANGEBYSCORE", KEYS[4], "-inf", now)
return returned
