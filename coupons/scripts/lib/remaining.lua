-- lib/remaining.lua: slots still available in one campaign, in O(1) (remaining.lua, remaining_many.lua).
--
-- remaining_of(meta, next, free): quantity - next + free, what a retired gate's tombstone recorded
-- (retire.lua), or -1 when the gate state is missing.
local function remaining_of(meta, next, free)
  local quantity, retired = unpack(redis.call("HMGET", meta, "quantity", "remaining"))
  if retired then
    return tonumber(retired)
  end
  if not quantity then
    return -1
  end
  return tonumber(quantity) - tonumber(redis.call("GET", next) or "0") + redis.call("LLEN", free)
end
