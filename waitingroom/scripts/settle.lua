#!lua
-- settle.lua: the claim of a consumed pass reports back (it took its slot, or never will).
--
-- KEYS[1] meta     hash: settle_seq, the number of reports so far
-- KEYS[2] using    zset: "<user>:<pass expiry>" -> deadline (ms)
-- KEYS[3] settled  zset: "<user>:<pass expiry>" -> the report's number
-- ARGV[1] the pass's member
-- Returns 1 moved from `using` to `settled`, 0 it was not in `using` (given
-- back, reported already, or dropped at its deadline).
--
-- The entry keeps counting as outstanding until a tick that read settle_seq
-- at or above its number before it read the stock drops it: by then the
-- stock it read shows this claim's slot (waitingroom/protected.py).
assert(#KEYS == 3, "settle.lua takes 3 keys")

if redis.call("ZREM", KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call("ZADD", KEYS[3], redis.call("HINCRBY", KEYS[1], "settle_seq", 1), ARGV[1])
return 1
