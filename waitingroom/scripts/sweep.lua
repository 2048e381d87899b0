#!lua flags=allow-oom
-- sweep.lua: one step of the pass that removes silent users from the queue (W5).
--
-- Silence is only decided per window (lib/heartbeat.lua), so one pass over the
-- queue per window finds every silent user: a pass starts when the window has
-- moved since the last one began, and walks the queue in arrival order, a
-- batch per call (each call stays short, so Redis is never blocked for long),
-- from a cursor kept in meta (sweep_at: the last score looked at; sweep_for:
-- the window the pass began in).
--
-- KEYS[1] meta  KEYS[2] queue  KEYS[3] hb  KEYS[4] hb_prev
-- ARGV[1] now in ms, or "" for the Redis server clock
-- ARGV[2] batch size: users looked at in this call
-- Returns {removed, looked at, "more" | "done" | "idle"}: "more" while the pass
-- has users left to look at, "done" when this call finished it, "idle" when
-- this window was already swept (or the room has no heartbeat state yet).
assert(#KEYS == 4, "sweep.lua takes 4 keys")

-- include: config:lib/clock.lua
-- include: lib/heartbeat.lua

local meta = redis.call("HMGET", KEYS[1], "silence_ms", "sweep_at", "sweep_for")
if not meta[1] then
  return {0, 0, "idle"}
end
local now = now_ms(ARGV[1])
heartbeat_windows(KEYS[1], KEYS[3], KEYS[4], now)
local window = redis.call("HGET", KEYS[1], "hb_start")
local from = meta[2]
if not from then
  if meta[3] == window then
    return {0, 0, "idle"}
  end
  redis.call("HSET", KEYS[1], "sweep_for", window)
  from = "-inf"
end
local batch = tonumber(ARGV[2])
local rows = redis.call("ZRANGE", KEYS[2], from, "+inf", "BYSCORE", "LIMIT", 0, batch, "WITHSCORES")
local silent = {}
for i, heard_bit in ipairs(heard(KEYS[3], KEYS[4], arrivals_of(rows))) do
  if heard_bit == 0 then
    silent[#silent + 1] = rows[2 * i - 1]
  end
end
for i = 1, #silent, 1000 do
  redis.call("ZREM", KEYS[2], unpack(silent, i, math.min(i + 999, #silent)))
end
local looked = #rows / 2
if looked < batch then
  redis.call("HDEL", KEYS[1], "sweep_at")
  return {#silent, looked, "done"}
end
redis.call("HSET", KEYS[1], "sweep_at", "(" .. rows[#rows])
return {#silent, looked, "more"}
