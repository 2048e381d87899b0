#!lua flags=allow-oom
-- confirm.lua: make the gate agree with a grant PostgreSQL has committed as live.
--
-- Normally a no-op: the claim script already recorded the hold. It matters when
-- Redis lost state between the claim and the commit (a flush, a rebuild that
-- read PostgreSQL before the row existed, a sweeper that released a slow
-- claim): then the hold is written back and the slot leaves the free list, so
-- a later release of this grant returns the slot instead of losing it.
--
-- KEYS[1] holders  KEYS[2] leases  KEYS[3] free  KEYS[4] next
-- ARGV[1] user id  ARGV[2] slot  ARGV[3] grant id
-- ARGV[4] lease deadline in ms for a pending grant, or "" for a settled one
--
-- Returns 0 when Redis already agreed, 1 when it was repaired.
assert(#KEYS == 4, "confirm.lua takes 4 keys")

local user, slot, grant = ARGV[1], ARGV[2], ARGV[3]
local want = slot .. ":" .. grant
if redis.call("HGET", KEYS[1], user) == want then
  return 0
end
redis.call("HSET", KEYS[1], user, want)
redis.call("LREM", KEYS[3], 0, slot)
if tonumber(redis.call("GET", KEYS[4]) or "0") < tonumber(slot) then
  redis.call("SET", KEYS[4], slot)
end
if ARGV[4] ~= "" then
  redis.call("ZADD", KEYS[2], "NX", tonumber(ARGV[4]), slot .. ":" .. user .. ":" .. grant)
end
return 1
