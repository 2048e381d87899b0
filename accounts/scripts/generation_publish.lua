#!lua
-- generation_publish.lua: after a commit, write a user's token generation as the
-- database now has it (accounts/redis.py). Two publishes can land out of order
-- (two revokes in a row, each publishing after its commit): a generation never
-- moves back, so the later revoke's value stays. NO_USER (-1: the user is gone or
-- inactive) and REVOKING (-2: a revoke not yet committed) are always replaced by
-- a generation, and NO_USER replaces anything.
--
-- KEYS[1] the user's generation   string: an integer
-- ARGV[1] the generation to publish (>= 0, or -1 for NO_USER)
-- ARGV[2] its lifetime in ms
--
-- Returns the value the key holds afterwards.
assert(#KEYS == 1, "generation_publish.lua takes 1 key")

local value = tonumber(ARGV[1])
local current = tonumber(redis.call("GET", KEYS[1]))
if value >= 0 and current ~= nil and current > value then
    return current
end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return value
