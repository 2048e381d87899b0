-- fire.lua: wrk script for firstcome benchmarks.
--
-- Each request carries the bearer token of a user drawn at random from a token
-- file (so users repeat: retries and double clicks), and each thread stops after
-- its share of a fixed request budget. Arguments after `--`:
--   1 token file (one token per line)   2 method (POST/GET)   3 requests per thread
--   4 marker directory: a thread that spent its budget writes <dir>/<id> there,
--     so the harness can stop wrk as soon as every thread is done
--   5 optional path list file (one path per line, drawn at random); otherwise
--     the URL's path is used
-- A token file whose line is "-" sends no Authorization (an anonymous visitor).
-- done() prints one JSON line: status counts, socket errors, latency percentiles.
--
-- Paced mode: with WRK_PACE_MS set (in the environment), every connection waits
-- a random 0 to 2 x WRK_PACE_MS ms before each request, so the offered load is
-- about connections / WRK_PACE_MS x 1000 requests per second whatever the
-- server's speed: latency at a given load instead of at saturation.
local threads = {}
local pace = tonumber(os.getenv("WRK_PACE_MS") or "0") or 0
if pace > 0 then
  function delay()
    return math.random(0, 2 * pace)
  end
end
local counter = 0
-- WRK_LANGUAGES="ko,en": each request names one of them in Accept-Language, drawn at random.
local languages = nil
if (os.getenv("WRK_LANGUAGES") or "") ~= "" then
  languages = {}
  for language in string.gmatch(os.getenv("WRK_LANGUAGES"), "[^,]+") do languages[#languages + 1] = language end
end

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local function lines(file)
  local out = {}
  for line in io.lines(file) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

function init(args)
  tokens = lines(args[1])
  method = args[2] or "POST"
  budget = tonumber(args[3] or "0")
  marker = args[4]
  if args[5] and args[5] ~= "" then paths = lines(args[5]) end
  received = 0
  codes = {}
  math.randomseed(os.time() * 1000 + id * 7919)
  for _ = 1, 10 do math.random() end
end

function request()
  local path = paths and paths[math.random(#paths)] or wrk.path
  local headers = {}
  local token = tokens[math.random(#tokens)]
  if token ~= "-" then headers["Authorization"] = "Bearer " .. token end  -- "-": an anonymous visitor
  if languages then headers["Accept-Language"] = languages[math.random(#languages)] end
  local body = nil
  if method == "POST" then
    headers["Content-Type"] = "application/json"
    body = "{}"
  end
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  received = received + 1
  local key = tostring(status)
  codes[key] = (codes[key] or 0) + 1
  if budget > 0 and received == budget then
    if marker then
      local f = io.open(marker .. "/" .. id, "w")
      if f then f:write("done"); f:close() end
    end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local c = thread:get("codes")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"duration_us":%d,"codes":{%s},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, table.concat(parts, ","),
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
