#!lua flags=no-writes
-- remaining.lua: slots still available, in O(1).
--
-- KEYS[1] meta  KEYS[2] next  KEYS[3] free
-- Returns remaining (quantity - next + free), what a retired gate's tombstone recorded
-- (retire.lua), or -1 when the gate state is missing.
assert(#KEYS == 3, "remaining.lua takes 3 keys")

-- include: lib/remaining.lua

return remaining_of(KEYS[1], KEYS[2], KEYS[3])
