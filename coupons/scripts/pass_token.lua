#!lua
-- pass_token.lua: the rate-limit token of an action that carries an access pass, spent
-- before the pass is used up, and the room in front of the campaign (one round trip).
--
-- Why first: copies of one click all carry the pass, and only one can use it. If each
-- copy spent its token inside the action's script, the copies the pass refuses could
-- spend the user's burst before the one that used the pass reaches its script, which
-- would then be rate limited and give the pass back: a storm of the user's own
-- clicks would cost them the claim. Spent here, the copies that get a token race for
-- the pass, and the action's script then spends nothing more (its ARGV says so).
--
-- KEYS[1] meta    hash: the fields of GateMeta (coupons/redis.py); read: room, rl_*
-- KEYS[2] the user's token bucket, KEYS[3] the client IP's (lib/token_bucket.lua)
-- KEYS[4] stats   hash: outcome -> count; a refusal here counts ARGV[3] .. "rate_limited"
-- ARGV[1] now in ms, or "" for the Redis server clock
-- ARGV[2] "1" when KEYS[3] names the caller's IP, "" when the IP is unknown (no per-IP limit)
-- ARGV[3] prefix of the stats field: "" for claims, "hold:" for seat holds
--
-- Returns {"missing", "", 0} when the gate is missing (rebuild, then ask again; nothing spent),
-- {"ok", room id or "", 0} when a token was spent, {"rate_limited", room id or "", ms until a token}.
assert(#KEYS == 4, "pass_token.lua takes 4 keys")

-- include: config:lib/clock.lua
-- include: config:lib/token_bucket.lua

local meta = redis.call("HMGET", KEYS[1], "state", "room", "rl_user_burst", "rl_user_rate", "rl_ip_burst", "rl_ip_rate")
if not meta[1] then
  return {"missing", "", 0}
end
local room = meta[2] or ""
local by_ip = ARGV[2] == "1"
local wait = rate_limit({{KEYS[2], meta[3], meta[4]}, {KEYS[3], by_ip and meta[5] or 0, meta[6]}}, now_ms(ARGV[1]))
if wait > 0 then
  redis.call("HINCRBY", KEYS[4], ARGV[3] .. "rate_limited", 1)
  return {"rate_limited", room, wait}
end
return {"ok", room, 0}
