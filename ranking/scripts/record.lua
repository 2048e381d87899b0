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
--   or "drop" for KEYS[i]: a merge of the rolling window (merge.lua) this event makes stale,
--   deleted (its ARGV[4 + 2i] is ignored); drops come after every period key.
-- Returns the member's new value on the first key.
assert(#KEYS >= 1 and #ARGV == 4 + 2 * #KEYS, "record.lua: a direction and a TTL per key")

-- include: lib/record.lua

local member, mode, amount, t = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local first
for i, key in ipairs(KEYS) do
  local direction = ARGV[3 + 2 * i]
  if direction == "drop" then
    redis.call("DEL", key)
  else
    local value = record_event(key, member, mode, amount, t, direction == "desc", tonumber(ARGV[4 + 2 * i]))
    first = first or value
  end
end
return first
