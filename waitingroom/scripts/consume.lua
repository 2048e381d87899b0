#!lua
-- consume.lua: use an access pass, once (W4); the active place frees at once.
--
-- KEYS[1] active  zset: user id -> pass expiry (ms)
-- ARGV[1] user id
-- ARGV[2] the expiry the pass was signed with (it must match: an old pass of
--         an earlier admission is not valid for a new one)
-- ARGV[3] now in ms, or "" for the Redis server clock
-- Returns 1 consumed, 0 not admitted (never, or already used), -1 expired.
assert(#KEYS == 1, "consume.lua takes 1 key")

-- include: config:lib/clock.lua

local now = now_ms(ARGV[3])
local expiry = redis.call("ZSCORE", KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) ~= tonumber(ARGV[2]) then
  return 0
end
redis.call("ZREM", KEYS[1], ARGV[1])
if tonumber(expiry) <= now then
  return -1
end
return 1
