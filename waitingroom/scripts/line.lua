#!lua
-- line.lua: the room's line document (services/line.py), the same for every queued user.
--
-- KEYS[1] meta  KEYS[2] queue
-- ARGV[1] now in ms, or "" for the Redis server clock
-- ARGV[2] the front zone in seconds of admissions, ARGV[5] and at least this many places
-- ARGV[6] the configured rate (people a second), the pace until the first tick
-- ARGV[3] the smallest gap between two marks, in places (200)
-- ARGV[4] the gap between marks grows to 1/ARGV[4] of the mark's rank (50: 2%)
--
-- Returns {outcome, state, size, throttled, rate_ema, pos_ema, admissible,
--          last_tick_ms, opens_at_ms, front, front_score, marks}: outcome "ok" |
-- "missing"; front the places of the front zone, schedule.front_size() of the
-- pace (pos_ema, else the configured rate: eta.people_per_tick; a test keeps
-- the two in step); front_score the score of the last place of the front zone ("" for
-- an empty line); marks a flat {rank, score, rank, score, ...}, the scores at
-- ranks 0, then each gap further (max(ARGV[3], rank / ARGV[4])), and the last
-- place. A user whose score lies between two marks' has a rank between them:
-- telling the middle is off by at most half a gap, within max(100, 1%) of the
-- rank. Before opening there are no marks: the pre-queue's order stays secret.
-- Reads only: about 280 ZRANGEs of one place for a million queued users.
assert(#KEYS == 2, "line.lua takes 2 keys")

-- include: config:lib/clock.lua

local meta = redis.call(
  "HMGET", KEYS[1], "state", "throttled", "rate_ema", "pos_ema", "admissible", "last_tick_ms", "opens_at_ms", "silence_ms"
)
local state = meta[1]
if not state or not meta[8] then
  return {"missing", "", 0, "0", "", "", "", "", "", 0, "", {}}
end
local now = now_ms(ARGV[1])
local opened = now >= tonumber(meta[7])
if state == "scheduled" and opened then
  state = "queueing" -- the tick that flips it is at most a second away
end
local size = redis.call("ZCARD", KEYS[2])
local pace = tonumber(meta[4] or "")
if not pace or pace == 0 then
  pace = tonumber(ARGV[6])
end
pace = math.max(pace, 0.1)
local front = math.max(tonumber(ARGV[5]), math.ceil(tonumber(ARGV[2]) * pace))
local marks, front_score = {}, ""
if opened and size > 0 then
  local last = math.min(front, size) - 1
  front_score = redis.call("ZRANGE", KEYS[2], last, last, "WITHSCORES")[2]
  local least, share = tonumber(ARGV[3]), tonumber(ARGV[4])
  local rank = 0
  while true do
    local row = redis.call("ZRANGE", KEYS[2], rank, rank, "WITHSCORES")
    marks[#marks + 1] = rank
    marks[#marks + 1] = row[2]
    if rank == size - 1 then
      break
    end
    rank = math.min(size - 1, rank + math.max(least, math.floor(rank / share)))
  end
end
return {"ok", state, size, meta[2] or "0", meta[3] or "", meta[4] or "", meta[5] or "", meta[6] or "", meta[7], front, front_score,
  marks}
