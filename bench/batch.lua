-- wrk: /v1/events with 1,000 events per request. The events carry no id, so meterd assigns a
-- fresh one to each: every event is new, and each still goes through the dedupe index.
-- BATCH_TENANT and BATCH_EVENT_TYPE (optional) change whose events and of which meter.
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
