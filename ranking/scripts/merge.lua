#!lua
-- merge.lua: the rolling last 24 hours of a board, merged from its hour buckets on read
-- (docs/ranking.md, "The last 24 hours"). The merge is kept in KEYS[1] until a record
-- of the board drops it (record.lua, "drop") or it expires; a reader that finds it
-- there reads it as it is.
--
-- Packed scores (record.lua) cannot be added by ZUNIONSTORE: the tie-break parts would
-- carry into the value. So the script unpacks: a member's value is the sum of its
-- bucket values ("sum") or the value of its latest bucket ("last", boards whose
-- metric is set, not counted), and its time is the latest time any bucket saw.
--
-- KEYS[1]      the merge (under the {rank} hash tag, like the buckets)
-- KEYS[2..n]   the hour buckets of the window
-- ARGV[1] "desc" or "asc" (the board's direction)
-- ARGV[2] "sum" or "last"
-- ARGV[3] how long the merge is kept, in ms
-- Returns the number of members of the merge (0: the window is empty; nothing is kept).
assert(#KEYS >= 2 and #ARGV == 3, "merge.lua: a merge, its buckets, a direction, an aggregate and a TTL")

if redis.call("EXISTS", KEYS[1]) == 1 then
  return redis.call("ZCARD", KEYS[1])
end

local SHIFT = 4294967296
local MAX_VALUE = 2097151
local descending, aggregate, ttl = ARGV[1] == "desc", ARGV[2], tonumber(ARGV[3])
local values, times, order = {}, {}, {}
for i = 2, #KEYS do
  local rows = redis.call("ZRANGE", KEYS[i], 0, -1, "WITHSCORES")
  for j = 1, #rows, 2 do
    local member, score = rows[j], tonumber(rows[j + 1])
    local value, tie = math.floor(score / SHIFT), score % SHIFT
    local at = descending and (SHIFT - 1 - tie) or tie
    if values[member] == nil then
      values[member], times[member] = value, at
      order[#order + 1] = member
    else
      if aggregate == "sum" then
        values[member] = values[member] + value
      elseif at > times[member] then
        values[member] = value
      end
      if at > times[member] then
        times[member] = at
      end
    end
  end
end
if #order == 0 then
  return 0
end
local args = {}
for _, member in ipairs(order) do
  local value, at = math.min(values[member], MAX_VALUE), times[member]
  args[#args + 1] = value * SHIFT + (descending and (SHIFT - 1 - at) or at)
  args[#args + 1] = member
  if #args >= 1000 then
    redis.call("ZADD", KEYS[1], unpack(args))
    args = {}
  end
end
if #args > 0 then
  redis.call("ZADD", KEYS[1], unpack(args))
end
redis.call("PEXPIRE", KEYS[1], ttl)
return #order
