-- wrk: /v1/events with 1,000 events per request. The events carry no id, so meterd assigns a
-- fresh one to each: every event is new, and each still goes through the dedupe index.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local events = {}
for i = 1, 1000 do
  events[i] = '{"tenant_id":"tenant_bench","event_type":"tokens","quantity":' .. i ..
    ',"metadata":{"endpoint":"/api/search"}}'
end
wrk.body = "[" .. table.concat(events, ",") .. "]"
wrk.path = "/v1/events"
