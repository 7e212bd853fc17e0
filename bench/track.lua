-- wrk: single events on /track, each with its own id so none is a duplicate.
-- setup() runs in the main state and gives every wrk thread its own tag.
local next_tag = 0
function setup(thread)
  next_tag = next_tag + 1
  thread:set("tag", tostring(next_tag) .. "-" .. tostring(os.time()))
end

local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
  counter = counter + 1
  local body = '{"id":"b' .. tag .. '-' .. counter ..
    '","tenant_id":"tenant_bench","event_type":"query","quantity":1,"metadata":{"endpoint":"/api/search"}}'
  return wrk.format(nil, "/track", nil, body)
end
