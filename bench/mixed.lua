-- wrk script for `cargo xtask soak`: a mix of valid, invalid, oversized and unknown
-- requests through the gateway, with every response status counted across threads.
-- The subscription key comes from wrk's -H flag (wrk.headers).

local long = string.rep("a", 70)
local oversized = string.rep("%C3%A9", 600)
local paths = {
  "/api/generate_name",
  "/api/generate_name?starts_with=N",
  "/api/generate_name?starts_with=%C3%91",
  "/api/generate_name?starts_with=mary+j",
  "/api/generate_name?starts_with=1",              -- 422 pattern
  "/api/generate_name?starts_with=" .. long,        -- 422 max_length
  "/api/generate_name?starts_with=" .. oversized,   -- 422, a 3.6 KB query
  "/api/generate_name?starts_with=%zz",            -- 422 encoding
  "/api/generate_name?starts_with=Xyzzy",          -- 404 problem (no match)
  "/api/nope",                                      -- 404 gateway
  "/public/openapi.json",                           -- 200 (cached)
  "/public/docs",                                   -- 200 (cached)
}
-- Every 5th request also carries an 8 KB header. wrk.format replaces wrk.headers when given
-- a table, so the -H headers (the subscription key) are copied in. The public API takes no
-- key: API Management answers a key sent to it with 401 (docs/gateway.md), so requests to
-- /public/ carry the -H headers without the subscription key.
local SUBSCRIPTION_KEY = "ocp-apim-subscription-key"
local with_key, with_key_padded, public, public_padded = nil, nil, nil, nil
function init(args)
  -- `-- limited`: only the rate-limited operation, so every response is a counted call.
  if args[1] == "limited" then
    paths = { "/api/generate_name" }
  end
  with_key, with_key_padded, public, public_padded = {}, {}, {}, {}
  for name, value in pairs(wrk.headers) do
    with_key[name] = value
    with_key_padded[name] = value
    if string.lower(name) ~= SUBSCRIPTION_KEY then
      public[name] = value
      public_padded[name] = value
    end
  end
  local padding = string.rep("p", 8000)
  with_key_padded["X-Pad"] = padding
  public_padded["X-Pad"] = padding
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

counter = 0
statuses = {}

function request()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  local padded = counter % 5 == 0
  if string.sub(path, 1, 8) == "/public/" then
    return wrk.format("GET", path, padded and public_padded or public)
  end
  return wrk.format("GET", path, padded and with_key_padded or with_key)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d %d\n", status, count))
  end
  local e = summary.errors
  io.write(string.format("errors connect %d read %d write %d timeout %d\n", e.connect, e.read, e.write, e.timeout))
  io.write(string.format("latency p50 %.3f p99 %.3f max %.3f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
