#!lua
-- status.lua: where a user stands, and their heartbeat (a poll proves they are still there).
--
-- KEYS[1] meta  KEYS[2] queue  KEYS[3] active  KEYS[4] hb  KEYS[5] hb_prev  KEYS[6] seq
-- ARGV[1] user id
-- ARGV[2] now in ms, or "" for the Redis server clock
-- ARGV[3] the score of the user's arrival ticket (signature checked by the caller), or "":
--         a user Redis does not know goes back to that place (W8)
-- ARGV[4] unused, sent empty (was: when the ticket's holder was last heard)
-- KEYS[7], ARGV[5] (optional, standalone Redis only: on a cluster the key lives in another slot)
--         the user's token generation key (accounts/redis.py) and the generation the caller's
--         bearer token carries: unless the key holds exactly that, the outcome is
--         "token_unverified" and nothing is read or written (no heartbeat); the lean status
--         poll's revocation check without a round trip of its own (config/api/lean.py)
--
-- Returns {outcome, position, size, pass expiry ms, rate_ema, state, throttled,
--          pos_ema, admissible, last_tick_ms, score} (the pace "" before the first tick;
--          admissible "" for a room with no stock cap; score "" unless queued):
--   outcome "admitted" (position 0, expiry set) | "queued" | "absent" | "missing" | "token_unverified"
assert(#KEYS == 6 or #KEYS == 7, "status.lua takes 6 keys, or 7 with the token generation")

if #KEYS == 7 and redis.call("GET", KEYS[7]) ~= ARGV[5] then
  return {"token_unverified", 0, 0, 0, "", "", "0", "", "", "", ""}
end

-- include: config:lib/clock.lua
-- include: lib/heartbeat.lua

local meta = redis.call(
  "HMGET", KEYS[1], "state", "rate_ema", "throttled", "opens_at_ms", "silence_ms", "pos_ema", "admissible",
  "last_tick_ms"
)
local state = meta[1]
if not state or not meta[5] then
  return {"missing", 0, 0, 0, "", "", "0", "", "", "", ""}
end
local now = now_ms(ARGV[2])
if state == "scheduled" and now >= tonumber(meta[4]) then
  state = "queueing"  -- the tick that flips it is at most a second away
end
local function answer(outcome, position, size, expiry, score)
  return {
    outcome, position, size, expiry, meta[2] or "", state, meta[3] or "0", meta[6] or "", meta[7] or "", meta[8] or "",
    score
  }
end
local user = ARGV[1]
local size = redis.call("ZCARD", KEYS[2])
local expiry = redis.call("ZSCORE", KEYS[3], user)
if expiry and tonumber(expiry) > now then
  return answer("admitted", 0, size, tonumber(expiry), "")
end
local score = redis.call("ZSCORE", KEYS[2], user)
if not score and ARGV[3] ~= "" and state ~= "closed" and state ~= "sold_out" then
  if place_restore(KEYS[1], KEYS[2], KEYS[6], user, ARGV[3], now) then
    score = redis.call("ZSCORE", KEYS[2], user)
    size = size + 1
  end
end
if not score then
  return answer("absent", 0, size, 0, "")
end
heartbeat_windows(KEYS[1], KEYS[4], KEYS[5], now)
heartbeat(KEYS[4], arrival_of(score))
return answer("queued", redis.call("ZRANK", KEYS[2], user) + 1, size, 0, score)
