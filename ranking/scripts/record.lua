#!lua
-- record.lua: record one event for a member on every period key of every board of a
-- metric, in one call (DESIGN §6).
--
-- Scores pack the value and the tie-break into one exact double:
--   higher-is-better boards: value * 2^32 + (2^32 - 1 - t)  (earlier t ranks higher)
--   lower-is-better boards:  value * 2^32 + t               (earlier t ranks higher)
-- t is whole seconds since the board epoch (< 2^32) and values stay below 2^21,
-- so every score is an integer below 2^53: no precision is lost. Larger values
-- saturate at 2^21 - 1 (about 24 days in seconds, 2 million claims), so no call
-- ever writes some keys and fails on others. An increment keeps the latest t it
-- has seen, so the order the calls run in does not matter.
--
-- KEYS[1..n]  period keys (all under the {rank} hash tag)
-- ARGV[1] member
-- ARGV[2] "incr" (add ARGV[3] to the member's value) or "set" (value = ARGV[3])
-- ARGV[3] delta or value (integer)
-- ARGV[4] t: the event time, seconds since the epoch
-- ARGV[3 + 2i] "desc" or "asc" for KEYS[i];  ARGV[4 + 2i] TTL in seconds for KEYS[i] (0: keep)
-- Returns the member's new value on the first key.
assert(#KEYS >= 1 and #ARGV == 4 + 2 * #KEYS, "record.lua: a direction and a TTL per key")

local SHIFT = 4294967296
local MAX_VALUE = 2097151
local member, mode, amount, t = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local first
for i, key in ipairs(KEYS) do
  local descending = ARGV[3 + 2 * i] == "desc"
  local value, at = amount, t
  if mode == "incr" then
    local current = redis.call("ZSCORE", key, member)
    if current then
      current = tonumber(current)
      value = math.floor(current / SHIFT) + amount
      local tie = current % SHIFT
      local before = descending and (SHIFT - 1 - tie) or tie
      if before > at then
        at = before
      end
    end
  end
  value = math.max(0, math.min(value, MAX_VALUE))
  redis.call("ZADD", key, value * SHIFT + (descending and (SHIFT - 1 - at) or at), member)
  local ttl = tonumber(ARGV[4 + 2 * i])
  if ttl > 0 then
    redis.call("EXPIRE", key, ttl)
  end
  first = first or value
end
return first
