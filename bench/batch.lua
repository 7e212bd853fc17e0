-- wrk: /v1/events with 1,000 events per request. The events carry no id, so meterd assigns a
-- fresh one to each: every event is new, and each still goes through the dedupe index.
-- BATCH_TENANT and BATCH_EVENT_TYPE (optional) change whose events and of which meter.
-- BATCH_IDS=1 gives every event an id of the client's own instead, new to meterd, which the index
-- must then look up (bench/dedupe_scale.sh).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local tenant = os.getenv("BATCH_TENANT") or "tenant_bench"
local event_type = os.getenv("BATCH_EVENT_TYPE") or "tokens"
local events = {}
for i = 1, 1000 do
  events[i] = '{"tenant_id":"' .. tenant .. '","event_type":"' .. event_type .. '","quantity":' .. i ..
    ',"metadata":{"endpoint":"/api/search"}}'
end
wrk.body = "[" .. table.concat(events, ",") .. "]"
wrk.path = "/v1/events"

if os.getenv("BATCH_IDS") == "1" then
  local next_tag = 0
  function setup(thread)
    next_tag = next_tag + 1
    thread:set("tag", tostring(next_tag) .. "-" .. tostring(os.time()))
  end
  local counter = 0
  local head = '","tenant_id":"' .. tenant .. '","event_type":"' .. event_type .. '","quantity":'
  function request()
    local parts = {}
    for i = 1, 1000 do
      counter = counter + 1
      parts[i] = '{"id":"c' .. tag .. '-' .. counter .. head .. i .. '}'
    end
    return wrk.format(nil, nil, nil, "[" .. table.concat(parts, ",") .. "]")
  end
end
