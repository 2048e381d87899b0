#!lua
-- meta_update.lua: update the state and window of an existing gate, atomically.
--
-- KEYS[1] meta
-- ARGV[1] state  ARGV[2] opens_at_ms  ARGV[3] closes_at_ms  ARGV[4] quantity
-- Returns 1 when updated, 0 when the gate is missing (rebuild it instead: a
-- meta hash alone would look like a gate with no holders).
assert(#KEYS == 1, "meta_update.lua takes 1 key")

if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
redis.call("HSET", KEYS[1], "state", ARGV[1], "opens_at_ms", ARGV[2], "closes_at_ms", ARGV[3], "quantity", ARGV[4])
return 1
