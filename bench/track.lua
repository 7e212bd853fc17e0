-- wrk: single events on /track, each with its own id so none is a duplicate.
-- TRACK_PATH=/health sends the same bodies, built the same way, as GET /health (meterd ignores
-- them): the HTTP ceiling with the load generator doing /track's work (bench/cpu_split.sh).
-- Any other TRACK_PATH is POSTed to (bench/durable_floor.sh).
-- TRACK_FORMAT=seed sends what the seed's clients send: no id (meterd makes one), 50 tenants.
-- TRACK_DELAY_MS paces it (bench/pace.lua).
-- setup() runs in the main state and gives every wrk thread its own tag.
local next_tag = 0
function setup(thread)
  next_tag = next_tag + 1
  thread:set("tag", tostring(next_tag) .. "-" .. tostring(os.time()))
end

local counter = 0
local path = os.getenv("TRACK_PATH") or "/track"
wrk.method = path == "/health" and "GET" or "POST"
wrk.headers["Content-Type"] = "application/json"

local seed = os.getenv("TRACK_FORMAT") == "seed"

function request()
  counter = counter + 1
  local body
  if seed then
    body = '{"tenant_id":"tenant_' .. (counter % 50) ..
      '","event_type":"query","quantity":1,"metadata":{"endpoint":"/api/search"}}'
  else
    body = '{"id":"b' .. tag .. '-' .. counter ..
      '","tenant_id":"tenant_bench","event_type":"query","quantity":1,"metadata":{"endpoint":"/api/search"}}'
  end
  return wrk.format(nil, path, nil, body)
end

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "pace.lua")
pace("TRACK_DELAY_MS")
