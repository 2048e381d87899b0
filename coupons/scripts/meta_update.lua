#!lua
-- meta_update.lua: update fields of an existing gate's meta hash, atomically.
--
-- KEYS[1] meta
-- ARGV    field, value, field, value, ... (state, opens_at_ms, closes_at_ms,
--         quantity, room, room_slug)
-- Returns 1 when updated, 0 when the gate is missing (rebuild it instead: a
-- meta hash alone would look like a gate with no holders).
assert(#KEYS == 1, "meta_update.lua takes 1 key")
assert(#ARGV % 2 == 0, "meta_update.lua takes field/value pairs")

if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
redis.call("HSET", KEYS[1], unpack(ARGV))
return 1
