#!lua
-- consume.lua: use an access pass, once (W4); the active place frees at once.
--
-- KEYS[1] active  zset: user id -> pass expiry (ms)
-- KEYS[2] meta    hash: state
-- KEYS[3] using   zset: "<user>:<pass expiry>" -> deadline (ms): passes consumed
--                 whose claim has not reported back yet (waitingroom/stock.py)
-- ARGV[1] user id
-- ARGV[2] the expiry the pass was signed with (it must match: an old pass of
--         an earlier admission is not valid for a new one)
-- ARGV[3] now in ms, or "" for the Redis server clock
-- ARGV[4] the pass's member in `using` ("<user>:<pass expiry>")
-- ARGV[5] how long it stays there at most (ms) if its claim never reports back
-- Returns 1 consumed, 0 not admitted (never, or already used), -1 expired,
-- -2 the room is closed (by staff, or its campaign ended): the pass is left
-- as it was, so it works again if staff reopen the room before it expires.
--
-- A consumed pass moves from `active` to `using` in this one step, so it never
-- stops counting against the stock (W6) before its claim has taken a slot.
assert(#KEYS == 3, "consume.lua takes 3 keys")

-- include: config:lib/clock.lua

if redis.call("HGET", KEYS[2], "state") == "closed" then
  return -2
end
local now = now_ms(ARGV[3])
local expiry = redis.call("ZSCORE", KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) ~= tonumber(ARGV[2]) then
  return 0
end
redis.call("ZREM", KEYS[1], ARGV[1])
if tonumber(expiry) <= now then
  return -1
end
redis.call("ZADD", KEYS[3], now + tonumber(ARGV[5]), ARGV[4])
return 1
