#!lua flags=allow-oom
-- confirm.lua: make the gate agree with a grant PostgreSQL has committed as live,
-- and ring the campaign's drain doorbell.
--
-- The repair is normally a no-op: the claim script already recorded the hold. It
-- matters when Redis lost state between the claim and the commit (a flush, a
-- rebuild that read PostgreSQL before the row existed, a sweeper that released a
-- slow claim): then the hold is written back and the slot leaves the free list,
-- so a later release of this grant returns the slot instead of losing it.
--
-- It also clears the hold's provisional mark (set by claim.lua until the grant
-- row's commit is known, I8): from now on a repeat click is answered with this
-- grant from Redis alone.
--
-- The doorbell (SET NX with a TTL) says "a drain of this campaign's pending
-- grants has been asked for and has not started yet". Only the call that sets it
-- asks for a drain, so a burst of claims publishes one message, not one per
-- grant. A drain deletes it before it first reads the pending grants (the
-- argument is in coupons/services.py, grant_drain).
--
-- KEYS[1] holders  KEYS[2] leases  KEYS[3] free  KEYS[4] next  KEYS[5] doorbell
-- KEYS[6] provisional  hash: user id -> grant id of a hold not yet known to be committed
-- ARGV[1] user id  ARGV[2] slot  ARGV[3] grant id
-- ARGV[4] lease deadline in ms for a pending grant, or "" for a settled one
-- ARGV[5] doorbell TTL in seconds, or "" not to ring
--
-- Returns {repaired, rang}: repaired 1 when the hold had to be written back;
-- rang 1 when this call set the doorbell (the caller then publishes a drain).
assert(#KEYS == 6, "confirm.lua takes 6 keys")

local user, slot, grant = ARGV[1], ARGV[2], ARGV[3]
local want = slot .. ":" .. grant
local repaired = 0
if redis.call("HGET", KEYS[1], user) ~= want then
  repaired = 1
  redis.call("HSET", KEYS[1], user, want)
  redis.call("LREM", KEYS[3], 0, slot)
  if tonumber(redis.call("GET", KEYS[4]) or "0") < tonumber(slot) then
    redis.call("SET", KEYS[4], slot)
  end
  if ARGV[4] ~= "" then
    redis.call("ZADD", KEYS[2], "NX", tonumber(ARGV[4]), slot .. ":" .. user .. ":" .. grant)
  end
end
if redis.call("HGET", KEYS[6], user) == grant then
  redis.call("HDEL", KEYS[6], user)
end
local rang = 0
if ARGV[5] ~= "" and redis.call("SET", KEYS[5], "1", "NX", "EX", tonumber(ARGV[5])) then
  rang = 1
end
return {repaired, rang}
