#!lua
-- api_key.lua: check a partner API key against its cached entry, spend a token of the
-- key's bucket and note when it was used (partners/redis.py). No database on the way.
--
-- KEYS[1] entry  hash: state (ok | revoked | unknown), hashed, partner, namespace,
--                expires_ms ("" = never), rl_burst, rl_rate (0 = no limit)
-- KEYS[2] used   string: ms of the key's last accepted use
-- KEYS[3] rl     the key's token bucket (config:lib/token_bucket.lua)
-- ARGV[1] the presented key, hashed as the entry stores it ("sha512$$<hex>")
-- ARGV[2] now in ms, or "" for the Redis server clock
-- ARGV[3] seconds the used mark is kept
--
-- Returns {"missing"} (no entry: fill it from PostgreSQL and ask again), {"unknown"}
-- (no such key), {"revoked"}, {"invalid"} (wrong secret), {"expired"},
-- {"rate_limited", wait_ms}, or {"ok", partner id, namespace}.
assert(#KEYS == 3, "api_key.lua takes 3 keys")

-- include: config:lib/clock.lua
-- include: config:lib/token_bucket.lua

local state, hashed, partner, namespace, expires, burst, rate = unpack(redis.call(
  "HMGET", KEYS[1], "state", "hashed", "partner", "namespace", "expires_ms", "rl_burst", "rl_rate"))
if not state then
  return {"missing"}
end
if state ~= "ok" then
  return {state}
end
if hashed ~= ARGV[1] then
  return {"invalid"}
end
local now = now_ms(ARGV[2])
if expires ~= "" and now >= tonumber(expires) then
  return {"expired"}
end
local wait = rate_limit({{KEYS[3], burst, rate}}, now)
if wait > 0 then
  return {"rate_limited", wait}
end
redis.call("SET", KEYS[2], now, "EX", tonumber(ARGV[3]))
return {"ok", partner, namespace}
