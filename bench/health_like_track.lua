-- wrk: GET /health carrying the body bench/track.lua sends, built the same way per request: the
-- HTTP ceiling with the load generator doing /track's work (meterd ignores the body).
local next_tag = 0
function setup(thread)
  next_tag = next_tag + 1
  thread:set("tag", tostring(next_tag) .. "-" .. tostring(os.time()))
end

local counter = 0
wrk.method = "GET"
wrk.headers["Content-Type"] = "application/json"

function request()
  counter = counter + 1
  local body = '{"id":"b' .. tag .. '-' .. counter ..
    '","tenant_id":"tenant_bench","event_type":"query","quantity":1,"metadata":{"endpoint":"/api/search"}}'
  return wrk.format(nil, "/health", nil, body)
end
