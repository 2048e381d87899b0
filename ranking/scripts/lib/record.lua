-- lib/record.lua: one event on one period key, with the packed score of record.lua's header
-- (pasted in where a script says "-- include: lib/record.lua").

local SHIFT = 4294967296
local MAX_VALUE = 2097151

-- Add `amount` to the member's value ("incr") or set it ("set") on `key`, keeping the
-- latest event time for the tie-break; set the key's TTL (0: keep). Returns the new value.
local function record_event(key, member, mode, amount, t, descending, ttl)
  local value, at = amount, t
  if mode == "incr" then
    local current = redis.call("ZSCORE", key, member)
    if current then
      current = tonumber(current)
      value = math.floor(current / SHIFT) + amount
      local tie = current % SHIFT
      local before = descending and (SHIFT - 1 - tie) or tie
      if before > at then
        at = before
      end
    end
  end
  value = math.max(0, math.min(value, MAX_VALUE))
  redis.call("ZADD", key, value * SHIFT + (descending and (SHIFT - 1 - at) or at), member)
  if ttl > 0 then
    redis.call("EXPIRE", key, ttl)
  end
  return value
end
