#!lua flags=allow-oom
-- sweep.lua: remove one batch of silent users (no heartbeat since the cutoff), W5.
--
-- KEYS[1] queue  KEYS[2] seen
-- ARGV[1] cutoff in ms (heartbeats at or before it are silent)
-- ARGV[2] batch size (keeps each call short so Redis is never blocked for long)
-- Returns how many users left the queue.
assert(#KEYS == 2, "sweep.lua takes 2 keys")

local silent = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[2]))
if #silent == 0 then
  return 0
end
redis.call("ZREM", KEYS[2], unpack(silent))
return redis.call("ZREM", KEYS[1], unpack(silent))
