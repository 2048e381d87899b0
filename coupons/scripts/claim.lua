#!lua
-- claim.lua: give one user one slot of one campaign, atomically (DESIGN §3).
-- The shebang makes Redis refuse the whole script up front when it is out of
-- memory (noeviction), instead of letting it write past the limit.
--
-- KEYS[1] meta     hash: the fields of GateMeta (coupons/redis.py), every one read here: state
--                  ("live" | "closed" | "cancelled"), opens_at_ms, closes_at_ms, quantity, room,
--                  room_slug, allocation, rl_user_burst, rl_user_rate, rl_ip_burst, rl_ip_rate
-- KEYS[2] next     string: the highest slot number handed out so far (INCR)
-- KEYS[3] free     list: released slot numbers, handed out again before new ones
-- KEYS[4] holders  hash: user id -> "<slot>:<grant id>"
-- KEYS[5] leases   zset: "<slot>:<user id>:<grant id>" -> lease deadline (ms)
-- KEYS[6] the user's token bucket, KEYS[7] the client IP's (lib/token_bucket.lua)
-- KEYS[8] stats    hash: outcome -> how many calls got it (the dashboard's and /metrics'
--                  claims by outcome; counted here so the hot path pays no extra round trip)
-- KEYS[9] provisional  hash: user id -> grant id of a hold whose grant row is not known to be
--                  committed yet (set here, cleared by confirm.lua after the commit or by
--                  release.lua after a failed INSERT; I8)
-- ARGV[1] user id
-- ARGV[2] grant id chosen by the caller (kept only when a slot is given)
-- ARGV[3] lease length in ms
-- ARGV[4] now in ms, or "" for the Redis server clock (tests move time with it)
-- ARGV[5] id of the waiting room whose access pass the caller just consumed, or ""
-- ARGV[6] "1" when KEYS[7] names the caller's IP, "" when the IP is unknown (no per-IP limit)
-- ARGV[7] "1" when pass_token.lua already spent this call's token (a claim carrying a pass)
-- KEYS[10], ARGV[8] (optional, standalone Redis only: on a cluster the key lives in another slot)
--         the user's token generation key (accounts/redis.py) and the generation the caller's
--         bearer token carries: unless the key holds exactly that, the answer is
--         {"token_unverified", 0, "", -1} before anything is read, spent or counted (the caller
--         then checks the token the usual way); the lean claim's revocation check without a
--         round trip of its own (config/api/lean.py)
--
-- Rate limits come first, before any other answer: every call spends a token
-- of the user's bucket and of the IP's (meta rl_user_* / rl_ip_*; 0 = off),
-- a repeat by a user who already holds a slot included. The per-user burst
-- (5 by default) lets a double click and a few retries through, each answered
-- with the user's slot from Redis alone; a script hammering gets
-- "rate_limited" whether it holds a slot or not, before opening too.
--
-- Returns {outcome, slot, grant id, remaining} (coupons.redis.claim names the reused places:
-- retry_after_ms, room_slug):
--   {"rate_limited", ms until a token is there, "", -1}  nothing was taken or spent
--   {"accepted", slot, grant_id, remaining}   a slot was taken for this user
--   {"duplicate", slot, grant_id, remaining}  the user already holds one, committed (idempotent)
--   {"in_flight", slot, grant_id, remaining}  the user's hold is provisional: the first click's
--                                             INSERT has not been confirmed; the caller must not
--                                             name that grant before it knows the row committed
--                                             (not counted in stats: the caller counts what it answers)
--   {"sold_out" | "not_open" | "closed" | "cancelled", 0, "", remaining}
--   {"choose_seat", 0, "", remaining}            a seat campaign: hold and confirm instead
--   {"admission_required", 0, room slug, remaining}  the campaign is behind a room
--                                             and no pass of that room was used
--   {"missing", 0, "", -1}                    no gate state: rebuild from PostgreSQL first
--   {"retired", 0, how it ended, remaining}   the gate is a tombstone (retire.lua): the campaign
--                                             ended ("sold_out" | "closed" | "cancelled"; a sell-out
--                                             answers "closed" once its window ended) and its live
--                                             state left Redis; the caller answers the user's grant
--                                             from PostgreSQL or the ending (not counted in stats)
assert(#KEYS == 9 or #KEYS == 10, "claim.lua takes 9 keys, or 10 with the token generation")

if #KEYS == 10 and redis.call("GET", KEYS[10]) ~= ARGV[8] then
  return {"token_unverified", 0, "", -1}
end

-- include: config:lib/clock.lua
-- include: config:lib/token_bucket.lua

local meta = redis.call(
  "HMGET", KEYS[1], "state", "opens_at_ms", "closes_at_ms", "quantity", "room", "room_slug", "allocation",
  "rl_user_burst", "rl_user_rate", "rl_ip_burst", "rl_ip_rate", "ended", "remaining"
)
local state = meta[1]
if not state then
  return {"missing", 0, "", -1}
end

local function answer(reply)
  if state ~= "retired" then  -- a tombstone grows no counters back
    redis.call("HINCRBY", KEYS[8], reply[1], 1)
  end
  return reply
end

local now = now_ms(ARGV[4])
local by_ip = ARGV[6] == "1"
local wait = 0
if ARGV[7] ~= "1" then
  wait = rate_limit({{KEYS[6], meta[8], meta[9]}, {KEYS[7], by_ip and meta[10] or 0, meta[11]}}, now)
end
if wait > 0 then
  return answer({"rate_limited", wait, "", -1})
end

if state == "retired" then
  local ended = meta[12]
  if ended == "sold_out" and now >= tonumber(meta[3]) then
    ended = "closed"
  end
  return {"retired", 0, ended, tonumber(meta[13]) or 0}
end

local quantity = tonumber(meta[4])
local function remaining()
  return quantity - tonumber(redis.call("GET", KEYS[2]) or "0") + redis.call("LLEN", KEYS[3])
end

if state == "cancelled" then
  return answer({"cancelled", 0, "", remaining()})
end
if meta[7] == "chosen" then
  return answer({"choose_seat", 0, "", remaining()})
end

local user = ARGV[1]
local held = redis.call("HGET", KEYS[4], user)
if held then
  local sep = string.find(held, ":", 1, true)
  local slot, grant = tonumber(string.sub(held, 1, sep - 1)), string.sub(held, sep + 1)
  -- a mark naming another grant is stale (that grant's hold is gone): this hold is committed
  if redis.call("HGET", KEYS[9], user) == grant then
    return {"in_flight", slot, grant, remaining()}
  end
  return answer({"duplicate", slot, grant, remaining()})
end

if meta[5] and meta[5] ~= "" and meta[5] ~= ARGV[5] then
  return answer({"admission_required", 0, meta[6] or "", remaining()})
end

if state == "closed" or now >= tonumber(meta[3]) then
  return answer({"closed", 0, "", remaining()})
end
if now < tonumber(meta[2]) then
  return answer({"not_open", 0, "", remaining()})
end

local slot = redis.call("LPOP", KEYS[3])
if slot then
  slot = tonumber(slot)
else
  local taken = tonumber(redis.call("GET", KEYS[2]) or "0")
  if taken >= quantity then
    return answer({"sold_out", 0, "", 0})
  end
  slot = redis.call("INCR", KEYS[2])
end

local grant = ARGV[2]
redis.call("HSET", KEYS[4], user, slot .. ":" .. grant)
redis.call("HSET", KEYS[9], user, grant)
redis.call("ZADD", KEYS[5], now + tonumber(ARGV[3]), slot .. ":" .. user .. ":" .. grant)
return answer({"accepted", slot, grant, remaining()})
