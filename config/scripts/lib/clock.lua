-- lib/clock.lua: the time a script runs for (pasted in by config/redis.py where a
-- script says "-- include: config:lib/clock.lua").

-- Milliseconds since the epoch: `override` when the caller sent one (tests
-- move time this way), else the Redis server clock.
local function now_ms(override)
  if override ~= "" then
    return tonumber(override)
  end
  local t = redis.call("TIME")
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
