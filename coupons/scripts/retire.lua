#!lua
-- retire.lua: replace an ended campaign's gate by a tombstone (coupons/services/retire.py).
--
-- Everything that made the gate live goes: slots, holders, leases, seats and
-- their holds, the fencing counter, the doorbell, the answer counters. What
-- stays is one small meta hash, so a late click is answered (claim.lua,
-- seat_hold.lua, remaining.lua read it) and the gate is never taken for
-- missing (a missing gate is rebuilt from PostgreSQL, a tombstone is not).
-- Idempotent: a rebuild of a retired campaign writes the same tombstone again.
--
-- KEYS[1] meta  KEYS[2] next  KEYS[3] free  KEYS[4] holders  KEYS[5] leases  KEYS[6] seats
-- KEYS[7] seat_holder  KEYS[8] fence  KEYS[9] seat_holds  KEYS[10] seat_session
-- KEYS[11] doorbell  KEYS[12] stats  KEYS[13] provisional
-- ARGV[1] how it ended: "sold_out" | "closed" | "cancelled"
-- ARGV[2] slots left at the end (what remaining.lua answers from now on)
-- ARGV[3] closes_at_ms (a sell-out retired before its window ends answers "closed" after it)
-- ARGV[4..7] rl_user_burst, rl_user_rate, rl_ip_burst, rl_ip_rate (late clicks stay rate limited)
--
-- Returns how many keys were deleted (the tombstone's meta counts as one when it replaced a live one).
assert(#KEYS == 13, "retire.lua takes 13 keys")
assert(#ARGV == 7, "retire.lua takes 7 arguments")

local deleted = redis.call("DEL", unpack(KEYS))
redis.call(
  "HSET", KEYS[1], "state", "retired", "ended", ARGV[1], "remaining", ARGV[2], "closes_at_ms", ARGV[3],
  "rl_user_burst", ARGV[4], "rl_user_rate", ARGV[5], "rl_ip_burst", ARGV[6], "rl_ip_rate", ARGV[7]
)
return deleted
