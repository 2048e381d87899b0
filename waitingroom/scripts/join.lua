#!lua
-- join.lua: put a user in a room's queue; idempotent (a re-join keeps the place, W3).
--
-- KEYS[1] meta    hash: state, opens_at_ms, prequeue ("1"/"0"), ...
-- KEYS[2] queue   zset: user id -> arrival score (lower goes first)
-- KEYS[3] active  zset: user id -> pass expiry (ms)
-- KEYS[4] seen    zset: user id -> last heartbeat (ms)
-- KEYS[5] seq     string: arrival counter (INCR)
-- ARGV[1] user id
-- ARGV[2] now in ms, or "" for the Redis server clock
-- ARGV[3] a random score below 2^52 drawn by the caller, used before opening
--         when the pre-queue is on (a random order: fair against early bots)
--
-- Arrivals after opening score 2^52 + INCR seq: always behind the pre-queue, in
-- arrival order, never tied.
-- Returns {outcome, position, size, arrival score}: outcome "queued" |
-- "prequeued" | "admitted" | "not_open" | "closed" | "sold_out" | "missing".
assert(#KEYS == 5, "join.lua takes 5 keys")

local meta = redis.call("HMGET", KEYS[1], "state", "opens_at_ms", "prequeue")
local state = meta[1]
if not state then
  return {"missing", 0, 0, ""}
end
if state == "closed" or state == "sold_out" then
  return {state, 0, 0, ""}
end
local now
if ARGV[2] ~= "" then
  now = tonumber(ARGV[2])
else
  local t = redis.call("TIME")
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local user = ARGV[1]
local expiry = redis.call("ZSCORE", KEYS[3], user)
if expiry and tonumber(expiry) > now then
  return {"admitted", 0, redis.call("ZCARD", KEYS[2]), ""}
end
local opened = now >= tonumber(meta[2])
local rank = redis.call("ZRANK", KEYS[2], user)
if not rank then
  local score
  if opened then
    score = 4503599627370496 + redis.call("INCR", KEYS[5])
  elseif meta[3] == "1" then
    score = tonumber(ARGV[3])
  else
    return {"not_open", 0, 0, ""}
  end
  redis.call("ZADD", KEYS[2], score, user)
  rank = redis.call("ZRANK", KEYS[2], user)
end
redis.call("ZADD", KEYS[4], now, user)
-- the score as a string: Lua numbers above 2^53 would lose digits as integers
return {opened and "queued" or "prequeued", rank + 1, redis.call("ZCARD", KEYS[2]), redis.call("ZSCORE", KEYS[2], user)}
