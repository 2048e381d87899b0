#!lua
-- retire.lua: replace a closed room's Redis state by a tombstone (waitingroom/services/retire.py).
--
-- The queue (everyone still waiting), the passes, the heartbeats and the
-- counters go; one small meta hash stays, so join.lua answers "closed" or
-- "sold_out" and status.lua "absent" in a closed room, as before, and the
-- room is never taken for missing (a missing meta is republished).
-- Idempotent.
--
-- KEYS[1] meta  KEYS[2] queue  KEYS[3] active  KEYS[4] seq  KEYS[5] hb  KEYS[6] hb_prev
-- KEYS[7] using  KEYS[8] settled  KEYS[9] used
-- ARGV[1] state: "closed" | "sold_out"
-- ARGV[2] opens_at_ms  ARGV[3] silence_ms (join.lua and status.lua read both)
-- ARGV[4..7] rl_user_burst, rl_user_rate, rl_ip_burst, rl_ip_rate (late joins stay rate limited)
--
-- Returns how many users were still queued.
assert(#KEYS == 9, "retire.lua takes 9 keys")
assert(#ARGV == 7, "retire.lua takes 7 arguments")

local queued = redis.call("ZCARD", KEYS[2])
redis.call("DEL", unpack(KEYS))
redis.call(
  "HSET", KEYS[1], "state", ARGV[1], "opens_at_ms", ARGV[2], "silence_ms", ARGV[3], "retired", "1",
  "rl_user_burst", ARGV[4], "rl_user_rate", ARGV[5], "rl_ip_burst", ARGV[6], "rl_ip_rate", ARGV[7]
)
return queued
