#!lua
-- meta_update.lua: update fields of an existing gate's meta hash, atomically.
--
-- KEYS[1] meta
-- ARGV    field, value, field, value, ... (state, opens_at_ms, closes_at_ms,
--         quantity, room, room_slug)
-- Returns 1 when updated, 0 when the gate is missing (rebuild it instead: a
-- meta hash alone would look like a gate with no holders), 2 when the gate is
-- retired (a tombstone, retire.lua: left as it is, so it never turns live again).
assert(#KEYS == 1, "meta_update.lua takes 1 key")
assert(#ARGV % 2 == 0, "meta_update.lua takes field/value pairs")

local state = redis.call("HGET", KEYS[1], "state")
if not state then
  return 0
end
if state == "retired" then
  return 2
end
redis.call("HSET", KEYS[1], unpack(ARGV))
return 1
