#!lua flags=allow-oom
-- restore.lua: give back an active place whose pass was consumed by a claim
-- that then could not use it (not open yet, another room's campaign, a store
-- error): the user keeps their turn instead of queueing again.
--
-- KEYS[1] active  KEYS[2] meta  KEYS[3] queue  KEYS[4] using  KEYS[5] used
-- ARGV[1] user id  ARGV[2] pass expiry (ms)  ARGV[3] the pass's member in `using` and `used`
-- Returns 1 restored (the pass is unused again), 0 not: the pass expired, the
-- room is closed or full again (W1), or the user is back in the queue or
-- already holds a newer pass: it stays used. Either way the pass leaves
-- `using`: its claim took no slot.
assert(#KEYS == 5, "restore.lua takes 5 keys")

redis.call("ZREM", KEYS[4], ARGV[3])
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(ARGV[2]) <= now then
  return 0
end
local meta = redis.call("HMGET", KEYS[2], "state", "max_active")
if meta[1] ~= "queueing" and meta[1] ~= "paused" then
  return 0
end
if redis.call("ZSCORE", KEYS[3], ARGV[1]) or redis.call("ZSCORE", KEYS[1], ARGV[1]) then
  return 0
end
if redis.call("ZCARD", KEYS[1]) >= tonumber(meta[2] or "0") then
  return 0
end
redis.call("ZADD", KEYS[1], tonumber(ARGV[2]), ARGV[1])
redis.call("ZREM", KEYS[5], ARGV[3])
return 1
