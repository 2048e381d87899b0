#!lua
-- view.lua: one beacon of the drop page (docs/ranking.md, "Most viewed"), in one round trip:
-- the client IP's token bucket, then the visitor's once-a-minute mark, then the count.
--
-- KEYS[1]      the client IP's bucket (lib/token_bucket.lua)
-- KEYS[2]      the visitor's mark for this drop: "seen" while it lives
-- KEYS[3..n]   the period keys of the views boards, then the merges they make stale
-- ARGV[1] bucket burst   ARGV[2] bucket tokens a second   ARGV[3] now in ms, "" for the server clock
-- ARGV[4] seconds the mark lives (repeat views inside them count once)
-- ARGV[5] member   ARGV[6] views to add (1/p, rounded without bias by the caller)   ARGV[7] t (record.lua)
-- ARGV[6 + 2i] "desc", "asc" or "drop" for KEYS[2 + i];  ARGV[7 + 2i] its TTL in seconds (0: keep)
-- Returns {"rate_limited", ms until a token} | {"repeat", 0} | {"counted", views on the first key (0: no board)}.
assert(#KEYS >= 2 and #ARGV == 7 + 2 * (#KEYS - 2), "view.lua: a bucket, a mark, then a direction and a TTL per key")

-- include: config:lib/clock.lua
-- include: config:lib/token_bucket.lua
-- include: lib/record.lua

local wait = rate_limit({{KEYS[1], ARGV[1], ARGV[2]}}, now_ms(ARGV[3]))
if wait > 0 then
  return {"rate_limited", wait}
end
if not redis.call("SET", KEYS[2], "1", "NX", "EX", tonumber(ARGV[4])) then
  return {"repeat", 0}
end
local member, amount, t = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local first = 0
for i = 3, #KEYS do
  local j = i - 2
  local direction, ttl = ARGV[6 + 2 * j], tonumber(ARGV[7 + 2 * j])
  if direction == "drop" then
    redis.call("DEL", KEYS[i])
  else
    local value = record_event(KEYS[i], member, "incr", amount, t, direction == "desc", ttl)
    if first == 0 then
      first = value
    end
  end
end
return {"counted", first}
