#!lua flags=no-writes
-- remaining_many.lua: the campaign rows' version and remaining.lua's answer for several campaigns,
-- in one call (the pages everyone refreshes read a dozen). A standalone Redis only: the keys are in
-- many campaigns' hash slots (a Redis Cluster is asked one remaining.lua per campaign instead).
--
-- KEYS[1] the version key (coupons.redis.CAMPAIGNS_VERSION_KEY); then meta, next, free of each campaign
-- Returns {version or nil, remaining of each campaign in KEYS' order}
assert(#KEYS % 3 == 1, "remaining_many.lua takes the version key and 3 keys per campaign")

-- include: lib/remaining.lua

local out = {redis.call("GET", KEYS[1])}
for i = 2, #KEYS, 3 do
  out[#out + 1] = remaining_of(KEYS[i], KEYS[i + 1], KEYS[i + 2])
end
return out
