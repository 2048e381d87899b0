#!lua
-- seat_hold.lua: hold a chosen seat for a user, with a fencing token (DESIGN §5).
--
-- A user holds at most one seat per campaign: holding another seat releases
-- the previous hold in the same step (switching seats is one click). A user who
-- bought a seat of the campaign (KEYS[10]) holds no other: "already_booked".
--
-- KEYS[1] meta         hash: the fields of GateMeta (coupons/redis.py); read here: state,
--                      opens_at_ms, closes_at_ms, quantity, allocation, room, rl_*
-- KEYS[2] seats        hash: slot -> "sold" | "held:<user>:<token>:<expiry ms>"
-- KEYS[3] seat_holder  hash: user -> "<slot>:<token>"
-- KEYS[4] fence        string: the per-campaign fencing counter (INCR)
-- KEYS[5] seat_holds   zset: slot -> hold expiry (ms), for the sweep
-- KEYS[6] seat_session zset: user -> end of their shopping session (ms), for
--         campaigns behind a waiting room
-- ARGV[1] user id  ARGV[2] slot  ARGV[3] hold length in ms
-- ARGV[4] now in ms, or "" for the Redis server clock
-- ARGV[5] id of the waiting room whose access pass the caller just consumed, or ""
-- ARGV[6] length of the shopping session a consumed pass opens, in ms
-- KEYS[7] the user's token bucket, KEYS[8] the client IP's (lib/token_bucket.lua)
-- KEYS[9] stats        hash: "hold:<outcome>" -> how many holds got it (dashboard, /metrics)
-- ARGV[7] "1" when KEYS[8] names the caller's IP, "" when the IP is unknown (no per-IP limit)
-- ARGV[8] "1" when pass_token.lua already spent this call's token (a hold carrying a pass)
-- KEYS[10] holders     hash: user -> "<slot>:<grant id>" of the seat they bought (seat_settle.lua
--                      writes it with the sale, a rebuild from the live grants)
--
-- Rate limits come first, before any other answer: every call spends a token
-- of the user's bucket and of the IP's (meta rl_user_* / rl_ip_*; 0 = off),
-- holding the seat the user already holds included (a double click still gets
-- its hold back within the burst; a script hammering gets "rate_limited").
--
-- Behind a waiting room the first hold needs a pass; it opens a session in
-- which the user may switch seats without queueing again.
--
-- Returns {outcome, token, expiry ms}: outcome "held" (also when the user
-- already holds this seat: same token) | "seat_taken" | "no_seat" |
-- "not_open" | "closed" | "cancelled" | "missing" | "already_booked" | "admission_required"; on a
-- retired gate (a tombstone, coupons/scripts/retire.lua) how the campaign ended, "sold_out" |
-- "closed" | "cancelled" ("closed" once the window ended), not counted in stats;
-- {"rate_limited", ms until a token is there, 0}: nothing held or spent.
assert(#KEYS == 10, "seat_hold.lua takes 10 keys")

-- include: config:lib/clock.lua
-- include: config:lib/token_bucket.lua

local meta = redis.call(
  "HMGET", KEYS[1], "state", "opens_at_ms", "closes_at_ms", "quantity", "allocation", "room",
  "rl_user_burst", "rl_user_rate", "rl_ip_burst", "rl_ip_rate", "ended"
)
if not meta[1] then
  return {"missing", 0, 0}
end

local function answer(reply)
  if meta[1] ~= "retired" then  -- a tombstone grows no counters back
    redis.call("HINCRBY", KEYS[9], "hold:" .. reply[1], 1)
  end
  return reply
end
local now = now_ms(ARGV[4])
local by_ip = ARGV[7] == "1"
local wait = 0
if ARGV[8] ~= "1" then
  wait = rate_limit({{KEYS[7], meta[7], meta[8]}, {KEYS[8], by_ip and meta[9] or 0, meta[10]}}, now)
end
if wait > 0 then
  return answer({"rate_limited", wait, 0})
end
if meta[1] == "retired" then
  if meta[11] == "sold_out" and now >= tonumber(meta[3]) then
    return {"closed", 0, 0}
  end
  return {meta[11], 0, 0}
end
if meta[1] == "cancelled" or meta[1] == "closed" then
  return answer({meta[1], 0, 0})
end
if now >= tonumber(meta[3]) then
  return answer({"closed", 0, 0})
end
if now < tonumber(meta[2]) then
  return answer({"not_open", 0, 0})
end
local user, slot = ARGV[1], ARGV[2]
local n = tonumber(slot)
if meta[5] ~= "chosen" or not n or n < 1 or n > tonumber(meta[4]) then
  return answer({"no_seat", 0, 0})
end
-- a buyer needs no pass and no other seat: told before the waiting room would ask for one
if redis.call("HEXISTS", KEYS[10], user) == 1 then
  return answer({"already_booked", 0, 0})
end

if meta[6] and meta[6] ~= "" then
  if ARGV[5] == meta[6] then
    redis.call("ZADD", KEYS[6], now + tonumber(ARGV[6]), user)
  elseif tonumber(redis.call("ZSCORE", KEYS[6], user) or "0") <= now then
    return answer({"admission_required", 0, 0})
  end
end

local current = redis.call("HGET", KEYS[2], slot)
if current == "sold" then
  return answer({"seat_taken", 0, 0})
end
if current then
  local holder, token, expiry = string.match(current, "^held:([^:]+):([^:]+):([^:]+)$")
  if tonumber(expiry) > now then
    if holder == user then
      return answer({"held", tonumber(token), tonumber(expiry)})
    end
    return answer({"seat_taken", 0, 0})
  end
end

-- release the user's other live hold, if any
local previous = redis.call("HGET", KEYS[3], user)
if previous then
  local other = string.match(previous, "^([^:]+):")
  local value = redis.call("HGET", KEYS[2], other)
  if value and string.sub(value, 1, 5) == "held:" and string.match(value, "^held:([^:]+):") == user then
    redis.call("HDEL", KEYS[2], other)
    redis.call("ZREM", KEYS[5], other)
  end
end

local token = redis.call("INCR", KEYS[4])
local expiry = now + tonumber(ARGV[3])
-- %.0f: Lua's own number-to-string keeps 14 digits only, and tokens are longer
local token_text = string.format("%.0f", token)
redis.call("HSET", KEYS[2], slot, "held:" .. user .. ":" .. token_text .. ":" .. string.format("%.0f", expiry))
redis.call("HSET", KEYS[3], user, slot .. ":" .. token_text)
redis.call("ZADD", KEYS[5], expiry, slot)
return answer({"held", token, expiry})
