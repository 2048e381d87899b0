#!lua
-- token_bucket.lua: spend one token of a lone bucket (sign-up and login, per
-- client IP; config/ratelimit.py). Claims, holds and joins do the same inside
-- their own scripts, with lib/token_bucket.lua.
--
-- KEYS[1] bucket   string: "<tokens>:<updated ms>", expiring when full again
-- ARGV[1] burst (tokens the bucket holds)
-- ARGV[2] tokens it gains a second
-- ARGV[3] now in ms, or "" for the Redis server clock (tests move time with it)
--
-- Returns 0 when a token was spent, else the ms until one is there (nothing spent).
assert(#KEYS == 1, "token_bucket.lua takes 1 key")

-- include: lib/clock.lua
-- include: lib/token_bucket.lua

local now = now_ms(ARGV[3])
return rate_limit({{KEYS[1], ARGV[1], ARGV[2]}}, now)
