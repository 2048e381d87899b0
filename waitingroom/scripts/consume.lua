#!lua
-- consume.lua: use an access pass, once (W4); the active place frees at once.
--
-- KEYS[1] active  zset: user id -> pass expiry (ms)
-- KEYS[2] meta    hash: state
-- KEYS[3] using   zset: "<user>:<pass expiry>" -> deadline (ms): passes consumed
--                 whose claim has not reported back yet (waitingroom/protected.py)
-- KEYS[4] used    zset: "<user>:<pass expiry>" -> pass expiry: passes used (or given
--                 up by leaving), so a repeat is answered without PostgreSQL
-- KEYS[5] queue   zset: user id -> arrival score
-- ARGV[1] user id
-- ARGV[2] the expiry the pass was signed with (it must match: an old pass of
--         an earlier admission is not valid for a new one)
-- ARGV[3] now in ms, or "" for the Redis server clock
-- ARGV[4] the pass's member in `using` and `used` ("<user>:<pass expiry>")
-- ARGV[5] how long it stays in `using` at most (ms) if its claim never reports back
-- Returns 1 consumed (it was in `active`), 2 taken on trust: Redis knows
-- nothing of this pass (a failover lost it, or a flush): the caller's
-- signature check stands for the admission, and PostgreSQL decides whether it
-- was used before (W8); 0 used already (or given up), -1 expired, -2 the room
-- is closed (by staff, or its campaign ended): the pass is left as it was, so
-- it works again if staff reopen the room before it expires.
--
-- A consumed pass moves from `active` to `using` in this one step, so it never
-- stops counting against the stock (W6) before its claim has taken a slot. A
-- pass taken on trust also takes its holder out of the queue, where a failover
-- may have put them back: they are served.
assert(#KEYS == 5, "consume.lua takes 5 keys")

-- include: config:lib/clock.lua

if redis.call("HGET", KEYS[2], "state") == "closed" then
  return -2
end
local now = now_ms(ARGV[3])
local user, expiry = ARGV[1], tonumber(ARGV[2])
local active = redis.call("ZSCORE", KEYS[1], user)
if expiry <= now then
  if active and tonumber(active) == expiry then
    redis.call("ZREM", KEYS[1], user) -- the place frees now, not at the next tick
    redis.call("ZADD", KEYS[4], expiry, ARGV[4])
  end
  return -1
end
if redis.call("ZSCORE", KEYS[4], ARGV[4]) then
  return 0
end
local outcome = 2
if active and tonumber(active) == expiry then
  redis.call("ZREM", KEYS[1], user)
  outcome = 1
elseif active then
  return 0 -- Redis knows this user's admission, and it is another one: only that pass counts
else
  redis.call("ZREM", KEYS[5], user)
end
redis.call("ZADD", KEYS[4], expiry, ARGV[4])
redis.call("ZADD", KEYS[3], now + tonumber(ARGV[5]), ARGV[4])
return outcome
