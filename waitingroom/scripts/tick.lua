#!lua
-- tick.lua: one admission step of one room (beat, every second).
--
-- Drops expired actives, then moves min(rate, max_active - active) users from
-- the front of the queue to active (W1, W2). Runs at most once per room per
-- second even when two beat processes send the tick (the second is a no-op).
--
-- KEYS[1] meta  KEYS[2] queue  KEYS[3] active  KEYS[4] seen
-- ARGV[1] now in ms, or "" for the Redis server clock
-- ARGV[2] "1" to admit, "0" to hold admission this tick (back-pressure)
-- ARGV[3] silence cutoff in ms: a popped user whose last heartbeat is older
--         is dropped instead of admitted (W5), and the next one is taken
--
-- Returns {outcome, admitted, expired, state, dropped}: outcome "ok" | "duplicate" | "missing"
assert(#KEYS == 4, "tick.lua takes 4 keys")

local meta = redis.call("HMGET", KEYS[1], "state", "opens_at_ms", "max_active", "rate", "pass_ttl_ms", "last_tick", "rate_ema")
local state = meta[1]
if not state then
  return {"missing", 0, 0, "", 0}
end
local now
if ARGV[1] ~= "" then
  now = tonumber(ARGV[1])
else
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local second = math.floor(now / 1000)
if meta[6] and tonumber(meta[6]) >= second then
  return {"duplicate", 0, 0, state, 0}
end
redis.call("HSET", KEYS[1], "last_tick", second)

local expired = redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", now)
if state == "scheduled" and now >= tonumber(meta[2]) then
  state = "queueing"
  redis.call("HSET", KEYS[1], "state", state)
end

local admitted, dropped = 0, 0
if state == "queueing" and ARGV[2] == "1" then
  local room = tonumber(meta[3]) - redis.call("ZCARD", KEYS[3])
  local n = math.min(tonumber(meta[4]), room)
  local expiry = now + tonumber(meta[5])
  local cutoff = tonumber(ARGV[3])
  -- At most 4n pops a tick, so a queue full of silent users cannot stall Redis.
  local budget = 4 * n
  while n > 0 and budget > 0 do
    local popped = redis.call("ZPOPMIN", KEYS[2], n)
    if #popped == 0 then
      break
    end
    for i = 1, #popped, 2 do
      local user = popped[i]
      local heard = tonumber(redis.call("ZSCORE", KEYS[4], user) or "0")
      redis.call("ZREM", KEYS[4], user)
      if heard > cutoff then
        redis.call("ZADD", KEYS[3], expiry, user)
        admitted = admitted + 1
        n = n - 1
      else
        dropped = dropped + 1
      end
      budget = budget - 1
    end
  end
end
redis.call("HSET", KEYS[1], "throttled", (state == "queueing" and ARGV[2] ~= "1") and "1" or "0")
-- The observed admission rate, smoothed over roughly the last five seconds.
local ema = tonumber(meta[7] or "0") * 0.8 + admitted * 0.2
redis.call("HSET", KEYS[1], "rate_ema", string.format("%.3f", ema))
redis.call("HINCRBY", KEYS[1], "admitted", admitted)
return {"ok", admitted, expired, state, dropped}
