-- lib/heartbeat.lua: arrival numbers and heartbeat windows, shared by join,
-- status, tick and sweep (redis.py pastes it where a script says
-- "-- include: lib/heartbeat.lua"; it has no KEYS of its own).
--
-- A queued user's only per-user entry is the queue zset. Their heartbeat is
-- one bit, at their arrival number, in a bitmap per silence window: `hb` for
-- the current window, `hb_prev` for the one before. A user is alive while
-- their bit is set in either, so a user heard within the silence timeout T is
-- always alive, and one silent for 2T is always silent (T to 2T in between).
-- Arrival numbers come from the room's `seq` counter, dense from 1, so each
-- bitmap holds at most one bit per arrival in the room, whatever the user ids.
--
-- meta fields: silence_ms (T, published from PostgreSQL), hb_start (when the
-- current window began, ms) and hb_len (its length: T when it began).

-- Arrivals after opening score ARRIVAL_BASE + band * ARRIVAL_SPAN + arrival:
-- behind the pre-queue, never tied. The band is the tenth of a second since
-- opening the join came in (BAND_MS), so the line is ordered by arrival time
-- first and arrival number second: arrival numbers come from `seq`, which a
-- Redis failover to a replica that missed the last joins sets back, and the
-- joins after such a failover get the numbers of the lost ones again, but in
-- a later band, behind them (W8; docs/waitingroom.md, Failover).
local ARRIVAL_BASE = 4503599627370496 -- 2^52
local ARRIVAL_SPAN = 134217728 -- 2^27: arrival numbers stay below it
local BAND_MS = 100
local MAX_BAND = 33554431 -- 2^25 - 1 tenths of a second: 38.8 days; later joins share the last band
-- Before opening (pre-queue) the score is draw * ARRIVAL_SPAN + arrival, the
-- draw random below 2^25: a random order (a shared draw falls back to arrival
-- order), still below ARRIVAL_BASE, and the arrival number stays readable.
-- SETBIT offsets stay below 2^27 (a 16 MB bitmap): a room takes at most this
-- many arrivals over its Redis lifetime, and a pre-queue as many.
local MAX_ARRIVALS = ARRIVAL_SPAN

local floor, byte, band, rshift = math.floor, string.byte, bit.band, bit.rshift

-- Both kinds of score end in the arrival number (ARRIVAL_BASE is a multiple of the span).
local function arrival_of(score)
  return tonumber(score) % ARRIVAL_SPAN
end

-- The score of an arrival after opening at `now`: its band never goes back
-- (meta `band` keeps the highest given, should the server clock step back).
local function arrival_score(meta, opens_at, now, arrival)
  local at = math.max(0, math.min(MAX_BAND, floor((now - opens_at) / BAND_MS)))
  local highest = tonumber(redis.call("HGET", meta, "band") or "0")
  if at > highest then
    redis.call("HSET", meta, "band", at)
  else
    at = highest
  end
  return ARRIVAL_BASE + at * ARRIVAL_SPAN + arrival
end

-- Put a user back at the place an arrival ticket names (its signature and
-- owner checked by the caller; waitingroom/tickets.py), unless the tick has
-- served that place already (meta `served_upto`: the last score it popped).
-- However long ago its holder was heard: far back nobody polls (issue 21), and
-- nothing but the tick takes a silent user's place (W5), so a place not served
-- is still theirs (tickets no longer carry when it was heard). A lower score than the user holds wins (ZADD LT), a higher one
-- changes nothing. `seq` is raised to the ticket's arrival number, so no later
-- arrival takes it again. Returns true when the user stands there now.
local function place_restore(meta, queue, seq, user, score, now)
  local served = redis.call("HGET", meta, "served_upto")
  if served and tonumber(score) <= tonumber(served) then
    return false
  end
  redis.call("ZADD", queue, "LT", score, user)
  local arrival = arrival_of(score)
  if arrival > tonumber(redis.call("GET", seq) or "0") then
    redis.call("SET", seq, string.format("%.0f", arrival))
  end
  return true
end

-- The arrival numbers of a {member, score, member, score, ...} reply
-- (ZRANGE ... WITHSCORES). The tick and the sweep run this over a thousand
-- rows at a time, so the loop stays plain.
local function arrivals_of(rows)
  local arrivals = {}
  for i = 2, #rows, 2 do
    arrivals[i / 2] = tonumber(rows[i]) % ARRIVAL_SPAN
  end
  return arrivals
end

-- Move the windows forward to `now`: after one window the current one becomes
-- the previous one, after two or more both are dropped. Every script that
-- reads or writes heartbeats calls this first, so a heartbeat always lands in
-- the window of its own time. Windows keep their grid (hb_start advances by
-- whole windows), so the bounds above hold whoever happens to move them.
local function heartbeat_windows(meta, hb, hb_prev, now)
  local window = redis.call("HMGET", meta, "hb_start", "hb_len", "silence_ms")
  local silence = tonumber(window[3])
  if not window[1] then
    redis.call("HSET", meta, "hb_start", now, "hb_len", silence)
    return
  end
  local start, len = tonumber(window[1]), tonumber(window[2])
  if now < start + len then
    return
  end
  local passed = math.floor((now - start) / len)
  if passed == 1 and redis.call("EXISTS", hb) == 1 then
    redis.call("RENAME", hb, hb_prev)
  else
    redis.call("DEL", hb, hb_prev)
  end
  redis.call("HSET", meta, "hb_start", start + passed * len, "hb_len", silence)
end

local function heartbeat(hb, arrival)
  redis.call("SETBIT", hb, arrival, 1)
end

-- The bits at these offsets (a bitmap's bit 0 is the high bit of byte 0).
-- Offsets close together (the front of the queue, a sweep batch: at most 2^23
-- bits apart) are read with one GETRANGE of the bytes between them and looked
-- up in Lua; else with BITFIELD_RO calls of up to 1,000 GETs (slower, and
-- unpack() stays far below Lua's stack limit).
local function bits_at(key, offsets)
  local bits, count = {}, #offsets
  if count == 0 then
    return bits
  end
  local low, high = offsets[1], offsets[1]
  for i = 2, count do
    local offset = offsets[i]
    if offset < low then
      low = offset
    elseif offset > high then
      high = offset
    end
  end
  if high - low < 8388608 then
    local first = floor(low / 8)
    local bytes = redis.call("GETRANGE", key, first, floor(high / 8))
    local base = first * 8
    for i = 1, count do
      local at = offsets[i] - base
      bits[i] = band(rshift(byte(bytes, floor(at / 8) + 1) or 0, 7 - at % 8), 1)
    end
    return bits
  end
  for first = 1, count, 1000 do
    local args, size = {}, 0
    for i = first, math.min(first + 999, count) do
      args[size + 1], args[size + 2], args[size + 3] = "GET", "u1", offsets[i]
      size = size + 3
    end
    for _, got in ipairs(redis.call("BITFIELD_RO", key, unpack(args))) do
      bits[#bits + 1] = got
    end
  end
  return bits
end

-- For each arrival number, 1 if heard in the current or the previous window,
-- else 0. The previous window is only read for those not heard in this one.
local function heard(hb, hb_prev, arrivals)
  local bits = bits_at(hb, arrivals)
  local again, where, count = {}, {}, 0
  for i = 1, #bits do
    if bits[i] == 0 then
      count = count + 1
      again[count], where[count] = arrivals[i], i
    end
  end
  if count > 0 then
    local before = bits_at(hb_prev, again)
    for j = 1, count do
      bits[where[j]] = before[j]
    end
  end
  return bits
end
