#!lua
-- status.lua: where a user stands, and their heartbeat (a poll proves they are still there).
--
-- KEYS[1] meta  KEYS[2] queue  KEYS[3] active  KEYS[4] seen
-- ARGV[1] user id
-- ARGV[2] now in ms, or "" for the Redis server clock
--
-- Returns {outcome, position, size, pass expiry ms, rate_ema, state, throttled}:
--   outcome "admitted" (position 0, expiry set) | "queued" | "absent" | "missing"
assert(#KEYS == 4, "status.lua takes 4 keys")

local meta = redis.call("HMGET", KEYS[1], "state", "rate_ema", "throttled", "opens_at_ms")
local state = meta[1]
if not state then
  return {"missing", 0, 0, 0, "0", "", "0"}
end
local now
if ARGV[2] ~= "" then
  now = tonumber(ARGV[2])
else
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if state == "scheduled" and now >= tonumber(meta[4]) then
  state = "queueing"  -- the tick that flips it is at most a second away
end
local user = ARGV[1]
local size = redis.call("ZCARD", KEYS[2])
local expiry = redis.call("ZSCORE", KEYS[3], user)
if expiry and tonumber(expiry) > now then
  return {"admitted", 0, size, tonumber(expiry), meta[2] or "0", state, meta[3] or "0"}
end
local rank = redis.call("ZRANK", KEYS[2], user)
if not rank then
  return {"absent", 0, size, 0, meta[2] or "0", state, meta[3] or "0"}
end
redis.call("ZADD", KEYS[4], now, user)
return {"queued", rank + 1, size, 0, meta[2] or "0", state, meta[3] or "0"}
