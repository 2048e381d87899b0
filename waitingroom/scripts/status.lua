#!lua
-- status.lua: where a user stands, and their heartbeat (a poll proves they are still there).
--
-- KEYS[1] meta  KEYS[2] queue  KEYS[3] active  KEYS[4] hb  KEYS[5] hb_prev
-- ARGV[1] user id
-- ARGV[2] now in ms, or "" for the Redis server clock
--
-- Returns {outcome, position, size, pass expiry ms, rate_ema, state, throttled,
--          pos_ema, admissible, last_tick_ms} (the last three "" before the first tick;
--          admissible "" for a room with no stock cap):
--   outcome "admitted" (position 0, expiry set) | "queued" | "absent" | "missing"
assert(#KEYS == 5, "status.lua takes 5 keys")

-- include: config:lib/clock.lua
-- include: lib/heartbeat.lua

local meta = redis.call(
  "HMGET", KEYS[1], "state", "rate_ema", "throttled", "opens_at_ms", "silence_ms", "pos_ema", "admissible",
  "last_tick_ms"
)
local state = meta[1]
if not state or not meta[5] then
  return {"missing", 0, 0, 0, "", "", "0", "", "", ""}
end
local pace = {meta[2] or "", state, meta[3] or "0", meta[6] or "", meta[7] or "", meta[8] or ""}
local now = now_ms(ARGV[2])
if state == "scheduled" and now >= tonumber(meta[4]) then
  state = "queueing"  -- the tick that flips it is at most a second away
end
local user = ARGV[1]
local size = redis.call("ZCARD", KEYS[2])
local expiry = redis.call("ZSCORE", KEYS[3], user)
if expiry and tonumber(expiry) > now then
  return {"admitted", 0, size, tonumber(expiry), unpack(pace)}
end
local score = redis.call("ZSCORE", KEYS[2], user)
if not score then
  return {"absent", 0, size, 0, unpack(pace)}
end
heartbeat_windows(KEYS[1], KEYS[4], KEYS[5], now)
heartbeat(KEYS[4], arrival_of(score))
return {"queued", redis.call("ZRANK", KEYS[2], user) + 1, size, 0, unpack(pace)}
