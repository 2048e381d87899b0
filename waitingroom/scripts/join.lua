#!lua
-- join.lua: put a user in a room's queue; idempotent (a re-join keeps the place, W3).
--
-- KEYS[1] meta    hash: state, opens_at_ms, prequeue ("1"/"0"), silence_ms, ...
-- KEYS[2] queue   zset: user id -> arrival score (lower goes first)
-- KEYS[3] active  zset: user id -> pass expiry (ms)
-- KEYS[4] seq     string: arrival counter (INCR)
-- KEYS[5] hb      bitmap: heartbeats of the current window, by arrival number
-- KEYS[6] hb_prev bitmap: heartbeats of the previous window
-- ARGV[1] user id
-- ARGV[2] now in ms, or "" for the Redis server clock
-- ARGV[3] a random draw below 2^25 made by the caller, used before opening
--         when the pre-queue is on (a random order: fair against early bots)
-- KEYS[7] the user's token bucket, KEYS[8] the client IP's (config:lib/token_bucket.lua)
-- ARGV[4] "1" when KEYS[8] names the caller's IP, "" when the IP is unknown (no per-IP limit)
-- ARGV[5] the score of the user's arrival ticket (signature checked by the caller), or "":
--         the user goes back to that place, or keeps a better one (W8)
-- ARGV[6] unused, sent empty (was: when the ticket's holder was last heard)
--
-- Rate limits come first, before any other answer: every join spends a token
-- of the user's bucket and of the IP's (meta rl_user_* / rl_ip_*; 0 = off), a
-- re-join included (a reload or a double click keeps its place within the
-- burst; a script hammering gets "rate_limited"). Status polls spend nothing.
--
-- Every new arrival takes the next arrival number from `seq`; its score is
-- 2^52 + band * 2^27 + arrival after opening (the band: tenths of a second
-- since opening), draw * 2^27 + arrival in the pre-queue (see
-- lib/heartbeat.lua). A join is also a heartbeat.
-- Returns {outcome, position, size, arrival score}: outcome "queued" |
-- "prequeued" | "admitted" | "not_open" | "closed" | "sold_out" | "missing";
-- {"rate_limited", ms until a token is there, 0, ""}: nothing changed.
-- A pre-queue past 2^27 arrivals answers "not_open" (join at opening), a room
-- past 2^27 arrivals "closed".
assert(#KEYS == 8, "join.lua takes 8 keys")

-- include: config:lib/clock.lua
-- include: lib/heartbeat.lua
-- include: config:lib/token_bucket.lua

local meta = redis.call(
  "HMGET", KEYS[1], "state", "opens_at_ms", "prequeue", "silence_ms", "rl_user_burst", "rl_user_rate", "rl_ip_burst",
  "rl_ip_rate"
)
local state = meta[1]
if not state or not meta[4] then
  return {"missing", 0, 0, ""}
end
local now = now_ms(ARGV[2])
local by_ip = ARGV[4] == "1"
local wait = rate_limit({{KEYS[7], meta[5], meta[6]}, {KEYS[8], by_ip and meta[7] or 0, meta[8]}}, now)
if wait > 0 then
  return {"rate_limited", wait, 0, ""}
end
if state == "closed" or state == "sold_out" then
  return {state, 0, 0, ""}
end
local user = ARGV[1]
local expiry = redis.call("ZSCORE", KEYS[3], user)
if expiry and tonumber(expiry) > now then
  return {"admitted", 0, redis.call("ZCARD", KEYS[2]), ""}
end
local opens_at = tonumber(meta[2])
local opened = now >= opens_at
if ARGV[5] ~= "" then
  place_restore(KEYS[1], KEYS[2], KEYS[4], user, ARGV[5], now)
end
local score = redis.call("ZSCORE", KEYS[2], user)
if not score then
  if not opened and meta[3] ~= "1" then
    return {"not_open", 0, 0, ""}
  end
  local arrival = redis.call("INCR", KEYS[4])
  if opened then
    if arrival >= MAX_ARRIVALS then
      return {"closed", 0, 0, ""}
    end
    score = arrival_score(KEYS[1], opens_at, now, arrival)
  else
    if arrival >= MAX_ARRIVALS then
      return {"not_open", 0, 0, ""}
    end
    score = (tonumber(ARGV[3]) % 33554432) * ARRIVAL_SPAN + arrival
  end
  redis.call("ZADD", KEYS[2], string.format("%.0f", score), user)
  score = redis.call("ZSCORE", KEYS[2], user)
end
heartbeat_windows(KEYS[1], KEYS[5], KEYS[6], now)
heartbeat(KEYS[5], arrival_of(score))
return {opened and "queued" or "prequeued", redis.call("ZRANK", KEYS[2], user) + 1, redis.call("ZCARD", KEYS[2]), score}
