#!lua
-- tick.lua: one admission step of one room (beat, every second).
--
-- Drops expired actives, then moves min(rate, max_active - active, stock -
-- outstanding) users from the front of the queue to active (W1, W2, W6). Runs at most once per room per
-- second even when two beat processes send the tick (the second is a no-op).
-- A popped user with no heartbeat in the current or previous silence window
-- is dropped instead of admitted (W5), and the next one is taken: a live
-- user polls their status from the moment they enter the front zone
-- (waitingroom/schedule.py), so only the silent are dropped.
--
-- KEYS[1] meta  KEYS[2] queue  KEYS[3] active  KEYS[4] hb  KEYS[5] hb_prev
-- KEYS[6] using    zset: consumed passes whose claim has not reported back -> deadline (ms)
-- KEYS[7] settled  zset: consumed passes whose claim reported back -> report number
-- KEYS[8] used     zset: used passes -> pass expiry (dropped once expired)
-- ARGV[1] now in ms, or "" for the Redis server clock
-- ARGV[2] "1" to admit, "0" to hold admission this tick (back-pressure)
-- ARGV[3] the protected campaign's remaining stock, or "" for no cap
-- ARGV[4] the room's settle_seq as read before that stock (the mark)
--
-- W6 (waitingroom/protected.py has the argument): `settled` entries numbered up to
-- the mark are dropped (the stock read after the mark shows their slots), so
-- are `using` entries past their deadline; passes outstanding = active + using
-- + settled, and at most stock - outstanding are admitted. meta `admissible`
-- keeps what is left after this tick's admissions ("" without a cap).
--
-- Returns {outcome, admitted, expired, state, dropped, redis_us}: outcome "ok" |
-- "duplicate" | "missing"; redis_us is the time this script ran, by the server
-- clock (its own cost, whoever else uses Redis; 0 unless "ok").
assert(#KEYS == 8, "tick.lua takes 8 keys")

-- include: config:lib/clock.lua
-- include: lib/heartbeat.lua

local started = redis.call("TIME")
local meta = redis.call(
  "HMGET", KEYS[1], "state", "opens_at_ms", "max_active", "rate", "pass_ttl_ms", "last_tick", "rate_ema", "silence_ms",
  "pos_ema", "ema_rate"
)
local state = meta[1]
if not state or not meta[8] then
  return {"missing", 0, 0, "", 0, 0}
end
local now = now_ms(ARGV[1])
local second = math.floor(now / 1000)
if meta[6] and tonumber(meta[6]) >= second then
  return {"duplicate", 0, 0, state, 0, 0}
end
redis.call("HSET", KEYS[1], "last_tick", second)

local expired = redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", now)
redis.call("ZREMRANGEBYSCORE", KEYS[7], "-inf", tonumber(ARGV[4]))
redis.call("ZREMRANGEBYSCORE", KEYS[6], "-inf", now)
redis.call("ZREMRANGEBYSCORE", KEYS[8], "-inf", now)
local admissible = nil
if ARGV[3] ~= "" then
  local outstanding = redis.call("ZCARD", KEYS[3]) + redis.call("ZCARD", KEYS[6]) + redis.call("ZCARD", KEYS[7])
  admissible = math.max(0, tonumber(ARGV[3]) - outstanding)
end
if state == "scheduled" and now >= tonumber(meta[2]) then
  state = "queueing"
  redis.call("HSET", KEYS[1], "state", state)
end

local admitted, dropped = 0, 0
local served = nil -- the last score popped: tickets of places up to it are spent (lib/heartbeat.lua)
-- Whether this tick shows the pace of the line (see the estimator below): it
-- admitted, and was held back neither by an empty queue nor by the stock.
local telling = false
if state == "queueing" and ARGV[2] == "1" then
  heartbeat_windows(KEYS[1], KEYS[4], KEYS[5], now)
  local room = tonumber(meta[3]) - redis.call("ZCARD", KEYS[3])
  local n = math.min(tonumber(meta[4]), room)
  telling = not admissible or admissible >= n
  if admissible then
    n = math.min(n, admissible)
  end
  -- a string: Redis turns a Lua number into text once per argument, and there are thousands
  local expiry = string.format("%.0f", now + tonumber(meta[5]))
  -- At most 4n + 1,000 pops a tick, so a queue full of silent users cannot
  -- stall Redis. Nothing sweeps them earlier (far back nobody polls): they
  -- are dropped here, at the front, when they did not poll in the front zone.
  local budget = 4 * n + 1000
  while n > 0 and budget > 0 do
    local asked = math.min(n, budget)
    local popped = redis.call("ZPOPMIN", KEYS[2], asked)
    if #popped < 2 * asked then
      telling = false -- the line ran out: this tick says nothing about its pace
    end
    if #popped == 0 then
      break
    end
    served = popped[#popped]
    local alive = heard(KEYS[4], KEYS[5], arrivals_of(popped))
    -- ZADD 500 admissions a call: far fewer calls, and a bounded unpack()
    local add, size = {}, 0
    for i = 1, #alive do
      if alive[i] == 1 then
        add[size + 1], add[size + 2] = expiry, popped[2 * i - 1]
        size = size + 2
        if size == 1000 then
          redis.call("ZADD", KEYS[3], unpack(add, 1, size))
          size = 0
        end
        admitted = admitted + 1
        n = n - 1
      else
        dropped = dropped + 1
      end
    end
    if size > 0 then
      redis.call("ZADD", KEYS[3], unpack(add, 1, size))
    end
    budget = budget - #alive
  end
end
redis.call("HSET", KEYS[1], "throttled", (state == "queueing" and ARGV[2] ~= "1") and "1" or "0")
-- The pace of the line for the ETA (W7), two averages over roughly the last
-- five telling ticks: rate_ema, people admitted a tick, and pos_ema, places
-- of the line passed a tick (admitted + silent users skipped). They start
-- from the configured rate (and again when staff change it, keeping the
-- share of silent users seen), and only ticks that show the pace move them:
-- paused, throttled or closed seconds do not, nor a tick held back by the
-- stock or by an empty line. A tick held back by max_active does: that is
-- the pace while passes are slow to be used.
local rate = tonumber(meta[4])
local rate_ema, pos_ema = tonumber(meta[7] or ""), tonumber(meta[9] or "")
if not rate_ema or not pos_ema or tonumber(meta[10] or "") ~= rate then
  local silent_share = 1
  if rate_ema and pos_ema and rate_ema > 0 then
    silent_share = pos_ema / rate_ema
  end
  rate_ema, pos_ema = rate, rate * silent_share
end
if telling then
  rate_ema = rate_ema * 0.8 + admitted * 0.2
  pos_ema = pos_ema * 0.8 + (admitted + dropped) * 0.2
end
redis.call(
  "HSET", KEYS[1], "rate_ema", string.format("%.3f", rate_ema), "pos_ema", string.format("%.3f", pos_ema),
  "ema_rate", rate, "last_tick_ms", now
)
redis.call("HINCRBY", KEYS[1], "admitted", admitted)
if served then
  redis.call("HSET", KEYS[1], "served_upto", served)
end
redis.call("HSET", KEYS[1], "admissible", admissible and (admissible - admitted) or "")
local ended = redis.call("TIME")
local redis_us = (tonumber(ended[1]) - tonumber(started[1])) * 1000000 + tonumber(ended[2]) - tonumber(started[2])
return {"ok", admitted, expired, state, dropped, redis_us}
