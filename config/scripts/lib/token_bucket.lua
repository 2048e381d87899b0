-- lib/token_bucket.lua: token buckets for rate limits (config/ratelimit.py),
-- pasted in where a script says "-- include: config:lib/token_bucket.lua".
-- It has no KEYS of its own: callers pass the bucket keys they got in KEYS.
--
-- A bucket is one string "<tokens>:<updated ms>": it holds up to `burst`
-- tokens, gains `rate` tokens a second, and every request spends one. A
-- missing key is a full bucket, so each key expires (PX) when its bucket would
-- be full again: memory follows the users of the last few seconds. A `now`
-- older than the bucket's last update (a caller's clock behind another's)
-- refills nothing and never drains it.

-- The bucket's tokens at `now`, and the time that level belongs to.
local function bucket_level(key, burst, rate, now)
  local value = redis.call("GET", key)
  if not value then
    return burst, now
  end
  local tokens, updated = string.match(value, "^([^:]+):([^:]+)$")
  tokens, updated = tonumber(tokens), tonumber(updated)
  if now <= updated then
    return math.min(burst, tokens), updated
  end
  return math.min(burst, tokens + (now - updated) * rate / 1000), now
end

-- rate_limit(buckets, now): `buckets` is a list of {key, burst, rate} (burst
-- and rate as numbers or strings; 0 or missing turns that bucket off).
-- When every bucket has a token, spends one of each and returns 0; otherwise
-- spends nothing and returns the ms until all of them have one (Retry-After).
local function rate_limit(buckets, now)
  local levels, wait = {}, 0
  for i, bucket in ipairs(buckets) do
    local burst, rate = tonumber(bucket[2]) or 0, tonumber(bucket[3]) or 0
    if burst > 0 and rate > 0 then
      local tokens, at = bucket_level(bucket[1], burst, rate, now)
      levels[i] = {tokens, at, burst, rate}
      if tokens < 1 then
        wait = math.max(wait, math.ceil((1 - tokens) * 1000 / rate))
      end
    end
  end
  if wait > 0 then
    return wait
  end
  for i, level in pairs(levels) do
    local tokens, at, burst, rate = level[1] - 1, level[2], level[3], level[4]
    local full_in = math.max(1, math.ceil((burst - tokens) * 1000 / rate))
    redis.call("SET", buckets[i][1], string.format("%.6f:%.0f", tokens, at), "PX", full_in)
  end
  return 0
end
